#include "daemon/controller.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "builder/bundle.h"
#include "core/log.h"
#include "core/time_format.h"
#include "daemon/deployment_codec.h"
#include "daemon/function_phase.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "spec/zoned_cron.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A stored stamp as an API time; "" when it was never set.
std::string Iso8601(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  return core::FormatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

// Function output (and reasons quoting it) need not be UTF-8: invalid bytes are replaced,
// so the answer's dump never throws.
std::string Utf8(const std::string& text) {
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

std::string Iso8601Millis(int64_t unix_ms) {
  return core::FormatUtcMillis(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

std::string Iso8601(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return core::FormatUtc(t);
}

// A private directory for one upload, removed when this goes out of scope.
class UploadDir {
 public:
  explicit UploadDir(const std::string& state_dir) {
    static std::atomic<int> counter{0};
    path_ = fs::path(state_dir) / "uploads" /
            fmt::format("{}-{}-{}", getpid(),
                        std::chrono::steady_clock::now().time_since_epoch().count(), counter++);
    std::error_code ec;
    fs::create_directories(path_, ec);
    fs::permissions(path_.parent_path(), fs::perms::owner_all, ec);
  }
  ~UploadDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Removes the images no function uses any more. Content-addressed images are shared
// between functions, so a function's old image goes only when no stored function's
// current image it is (the store is the reference count). Under apply_mu_: no build runs
// meanwhile.
void RemoveUnusedImages(store::Store& store, builder::Builder& builder, bool keep_recent) {
  auto records = store.ListFunctions("");
  if (!records) {
    core::Log(core::LogLevel::kWarn, "images: list functions: {}", records.error().ToString());
    return;
  }
  std::set<std::string> in_use;
  for (const auto& r : *records) in_use.insert(r.image);
  if (int removed = builder.RemoveUnused(in_use, keep_recent); removed > 0) {
    core::Log(core::LogLevel::kInfo, "images: removed {} no function uses", removed);
  }
}

}  // namespace

json ApplyOutcome::ToJson(const std::string& ns, const std::string& name) const {
  return json{{"namespace", ns}, {"name", name},   {"result", result}, {"generation", generation},
              {"image", image},  {"built", built}, {"digest", digest}};
}

Controller::Controller(store::Store& store, builder::Builder& builder, pool::Pool& pool,
                       docker::DockerClient& docker, ControllerOptions options)
    : store_(store),
      builder_(builder),
      pool_(pool),
      docker_(docker),
      options_(std::move(options)) {}

core::Status Controller::Start() {
  auto records = store_.ListFunctions("");
  if (!records) return records.error();
  std::vector<pool::Deployment> deployments;
  for (const auto& r : *records) {
    // A build cut short by a stop: the stored generation is what runs.
    if (r.status == "building") RecordStatus(r.namespace_name, r.name, "ready", r.last_error);
    if (r.deployment_json.empty()) continue;
    auto parsed = json::parse(r.deployment_json, nullptr, false);
    auto d = DeploymentFromJson(parsed);
    if (!d) {
      core::Log(core::LogLevel::kWarn, "function {}/{}: {}", r.namespace_name, r.name,
                d.error().message());
      continue;
    }
    std::vector<std::string> names;
    for (const auto& [secret, value] : d->secrets) names.push_back(secret);
    auto values = SecretValues(r.namespace_name, names);
    if (!values) {
      core::Log(core::LogLevel::kWarn, "function {}/{}: {}", r.namespace_name, r.name,
                values.error().message());
      RecordStatus(r.namespace_name, r.name, "failed", values.error().message());
      continue;
    }
    d->secrets = std::move(*values);
    if (options_.attach_stem) options_.attach_stem(*d, json::parse(r.spec_json, nullptr, false));
    deployments.push_back(std::move(*d));
  }
  return pool_.Start(deployments);
}

core::Result<std::map<std::string, std::string>> Controller::SecretValues(
    const std::string& ns, const std::vector<std::string>& names) {
  std::map<std::string, std::string> values;
  for (const auto& name : names) {
    auto secret = store_.GetSecret(ns, name);
    if (!secret) {
      if (secret.error().code() == core::ErrorCode::kNotFound) {
        return core::Error::InvalidArgument(
            fmt::format("secret \"{}\" does not exist in namespace \"{}\" (create it first: gantry "
                        "create secret {} ...)",
                        name, ns, name));
      }
      return secret.error();
    }
    values[name] = secret->value;
  }
  return values;
}

void Controller::RecordStatus(const std::string& ns, const std::string& name,
                              const std::string& status, const std::string& last_error) {
  if (auto s = store_.SetFunctionStatus(ns, name, status, last_error); !s) {
    core::Log(core::LogLevel::kWarn, "function {}/{}: cannot record status {}: {}", ns, name,
              status, s.error().ToString());
  }
}

void Controller::RecordEvent(const std::string& ns, const std::string& name,
                             const std::string& type, const std::string& reason,
                             const std::string& message) {
  if (options_.events != nullptr) {
    options_.events->Add(ControllerEvent(ns, name, type, reason, message));
  }
}

docker::LabelSelector Controller::FunctionSelector(const std::string& ns,
                                                   const std::string& name) const {
  docker::LabelSelector selector = options_.identity;
  selector.push_back("gantry.function=" + name);
  selector.push_back("gantry.namespace=" + ns);
  return selector;
}

std::optional<store::FunctionRecord> Controller::Unchanged(const std::string& ns,
                                                           const std::string& name,
                                                           const std::string& digest) {
  if (digest.empty()) return std::nullopt;
  auto existing = store_.GetFunction(ns, name);
  if (!existing || existing->hash != digest || existing->status == "failed" ||
      !pool_.Describe(ns, name).ok()) {
    return std::nullopt;
  }
  // The image may have gone behind gantryd's back (docker rmi, a prune): then the apply
  // rebuilds it rather than saying "unchanged" about a function whose next replica can't start.
  if (auto image = docker_.InspectImage(existing->image); !image) {
    if (image.error().code() != core::ErrorCode::kNotFound) {
      core::Log(core::LogLevel::kWarn, "function {}/{}: inspect image {}: {}", ns, name,
                existing->image, image.error().ToString());
    }
    return std::nullopt;
  }
  return std::move(*existing);
}

core::Result<ApplyOutcome> Controller::ApplyBundle(const std::string& ns, const std::string& name,
                                                   std::string_view bundle, bool dry_run,
                                                   const docker::BuildProgressFn& progress) {
  std::string digest = builder::BundleDigest(bundle);
  // One read: a delete between a check and a second read must not leave an empty record.
  if (auto existing = dry_run ? std::nullopt : Unchanged(ns, name, digest)) {
    return ApplyOutcome{.result = "unchanged",
                        .generation = existing->generation,
                        .image = existing->image,
                        .digest = digest};
  }
  UploadDir dir(options_.state_dir);
  // Messages name files as the bundle does ("function.json:1:5: ..."), never the state
  // directory the bundle was unpacked in.
  const std::string unpacked_in = dir.path().string() + "/";
  auto relative = [&unpacked_in](std::string text) {
    for (std::size_t at; (at = text.find(unpacked_in)) != std::string::npos;) {
      text.erase(at, unpacked_in.size());
    }
    return text;
  };
  if (auto s = builder::ExtractBundle(bundle, dir.path().string()); !s) {
    return core::Error(s.error().code(), relative(s.error().message()));
  }
  manifest::LocalFileSystem local;
  auto loaded =
      manifest::LoadManifests(local, {(dir.path() / builder::kBundleManifest).string()}, {});
  if (!loaded.ok()) {
    std::string all;
    for (const auto& e : loaded.errors) all += (all.empty() ? "" : "\n") + relative(e.ToString());
    return core::Error::InvalidArgument(fmt::format("invalid function:\n{}", all));
  }
  if (loaded.objects.size() != 1 ||
      !std::holds_alternative<spec::FunctionSpec>(loaded.objects[0].object)) {
    return core::Error::InvalidArgument("a bundle holds exactly one Function");
  }
  const auto& spec = std::get<spec::FunctionSpec>(loaded.objects[0].object);
  if (spec.namespace_name() != ns || spec.name() != name) {
    return core::Error::InvalidArgument(
        fmt::format("the bundle is function {}/{}, but the URL names {}/{}", spec.namespace_name(),
                    spec.name(), ns, name));
  }
  if (dry_run) {
    if (auto values = SecretValues(ns, spec.secrets()); !values) return values.error();
    return ApplyOutcome{.result = "valid", .digest = digest};
  }
  auto applied = ApplySpec(spec, digest, progress);
  if (!applied) return core::Error(applied.error().code(), relative(applied.error().message()));
  return applied;
}

core::Result<ApplyOutcome> Controller::ApplySpec(const spec::FunctionSpec& spec,
                                                 const std::string& digest,
                                                 const docker::BuildProgressFn& progress) {
  std::lock_guard lock(apply_mu_);
  const std::string& ns = spec.namespace_name();
  const std::string& name = spec.name();
  if (auto unchanged = Unchanged(ns, name, digest)) {
    return ApplyOutcome{.result = "unchanged",
                        .generation = unchanged->generation,
                        .image = unchanged->image,
                        .digest = digest};
  }
  // The one check validation can't make without the tz database: the zone exists.
  for (std::size_t i = 0; i < spec.triggers().size(); ++i) {
    const spec::Trigger& t = spec.triggers()[i];
    if (t.kind != spec::Trigger::Kind::kCron) continue;
    if (auto known = spec::CheckTimezoneKnown(t.timezone); !known) {
      return core::Error::InvalidArgument(
          fmt::format("{}: spec.triggers[{}].timezone: {}", name, i, known.error().message()));
    }
  }
  auto existing = store_.GetFunction(ns, name);
  auto fail = [&](const core::Error& e) -> core::Error {
    if (existing) RecordStatus(ns, name, "failed", e.message());
    return e;
  };
  auto secrets = SecretValues(ns, spec.secrets());
  if (!secrets) return fail(secrets.error());
  if (existing) RecordStatus(ns, name, "building", existing->last_error);
  auto built = builder_.Build(spec, [&](std::string_view line) {
    core::Log(core::LogLevel::kDebug, "build {}/{}: {}", ns, name, line);
    if (progress) progress(line);
  });
  if (options_.on_build) options_.on_build(!built ? "failed" : built->cached ? "cached" : "built");
  if (!built) {
    RecordEvent(ns, name, "Warning", "BuildFailed", built.error().message());
    return fail(built.error());
  }

  store::FunctionRecord record{.namespace_name = ns,
                               .name = name,
                               .spec_json = spec::CanonicalString(spec),
                               .hash = digest,
                               .image = built->ref,
                               .status = "ready"};
  int64_t generation = existing ? existing->generation + 1 : 1;
  pool::Deployment deployment = DeploymentFor(spec, *built, generation, *secrets);
  record.deployment_json = DeploymentToJson(deployment).dump();
  auto put = store_.PutFunction(record);
  if (!put) return fail(put.error());
  RecordEvent(ns, name, "Normal", "Built",
              fmt::format("{} image {}", built->cached ? "reused" : "built", built->ref));
  if (*put == store::PutOutcome::kUnchanged) {
    // Same digest and image as stored, but it had failed or the pool had lost it: run the
    // stored generation again.
    deployment.generation = record.generation;
    RecordStatus(ns, name, "ready", "");
  }
  if (options_.attach_stem) options_.attach_stem(deployment, spec::ToCanonicalJson(spec));
  if (auto s = pool_.Apply(deployment); !s) return fail(s.error());
  RecordEvent(ns, name, "Normal", "RolledOut",
              fmt::format("generation {} rolled out", deployment.generation));
  RemoveUnusedImages(store_, builder_, /*keep_recent=*/true);
  std::string result = *put == store::PutOutcome::kCreated ? "created" : "configured";
  core::Log(core::LogLevel::kInfo, "function {}/{} {} (generation {}, image {}{})", ns, name,
            result, record.generation, built->ref, built->cached ? ", cached" : "");
  return ApplyOutcome{.result = result,
                      .generation = record.generation,
                      .image = built->ref,
                      .built = !built->cached,
                      .digest = digest};
}

core::Status Controller::Delete(const std::string& ns, const std::string& name) {
  std::lock_guard lock(apply_mu_);
  auto existing = store_.GetFunction(ns, name);
  if (!existing) return existing.error();
  if (auto s = pool_.Remove(ns, name); !s && s.error().code() != core::ErrorCode::kNotFound)
    return s;
  if (auto s = store_.DeleteFunction(ns, name); !s) return s;
  // Only this instance's images, and none another function still runs.
  RemoveUnusedImages(store_, builder_, /*keep_recent=*/false);
  if (options_.on_delete) options_.on_delete(ns, name);
  core::Log(core::LogLevel::kInfo, "function {}/{} deleted", ns, name);
  return core::Ok();
}

core::Status Controller::Scale(const std::string& ns, const std::string& name, int64_t replicas,
                               pool::ScaleHold hold) {
  auto existing = store_.GetFunction(ns, name);
  if (!existing) return existing.error();
  auto deployment = DeploymentFromJson(json::parse(existing->deployment_json, nullptr, false));
  if (!deployment) return deployment.error().WithContext(fmt::format("function {}/{}", ns, name));
  const bool until_call = hold == pool::ScaleHold::kUntilCall;
  const int least = until_call ? 0 : deployment->min_replicas;
  if (replicas < least || replicas > deployment->max_replicas) {
    return core::Error::InvalidArgument(fmt::format(
        "function {}/{}: replicas must be within [{}, {}] (its {}scale.max), not {}", ns, name,
        least, deployment->max_replicas, until_call ? "" : "scale.min and ", replicas));
  }
  return pool_.Scale(ns, name, static_cast<int>(replicas), hold);
}

json Controller::DescribeRecord(const store::FunctionRecord& r) {
  json status = {{"generation", r.generation},
                 {"image", r.image},
                 {"phase", ""},
                 {"reason", ""},
                 {"nextRetry", nullptr},
                 {"lastError", r.last_error},
                 {"digest", r.hash},
                 {"createdAt", Iso8601(r.created_unix_ms)},
                 {"updatedAt", Iso8601(r.updated_unix_ms)},
                 {"readyReplicas", 0},
                 {"pausedReplicas", 0},
                 {"startingReplicas", 0},
                 {"queued", 0},
                 {"inFlight", 0},
                 {"replicas", json::array()},
                 {"currentReplicas", 0},
                 {"desiredReplicas", 0},
                 {"failuresInARow", 0},
                 {"lastLogLines", json::array()},
                 {"events", json::array()},
                 {"invocations", invocations_ ? invocations_(r.namespace_name, r.name) : 0},
                 {"lastInvocation", nullptr}};
  auto live = pool_.Describe(r.namespace_name, r.name);
  int min_replicas = 0;
  if (live) {
    // A count held below scale.min until the next call (OpenFaaS's scale-function to zero).
    min_replicas = live->held_until_call ? 0 : live->min_replicas;
  } else if (auto d = DeploymentFromJson(json::parse(r.deployment_json, nullptr, false))) {
    min_replicas = d->min_replicas;
  }
  FunctionPhase phase = DerivePhase({.stored_status = r.status,
                                     .stored_error = r.last_error,
                                     .live = live ? &*live : nullptr,
                                     .min_replicas = min_replicas,
                                     .now = std::chrono::system_clock::now()});
  status["phase"] = PhaseName(phase.phase);
  status["reason"] = Utf8(phase.reason);
  if (phase.next_retry) status["nextRetry"] = core::FormatUtcMillis(*phase.next_retry);
  status["desiredReplicas"] = min_replicas;
  if (live) {
    int current = live->ready + live->starting;
    status["currentReplicas"] = current;
    status["desiredReplicas"] = std::max({live->desired, min_replicas, current});
    status["failuresInARow"] = live->failures_in_a_row;
    for (const auto& line : live->last_lines) status["lastLogLines"].push_back(Utf8(line.text));
  }
  if (auto events = store_.ListEvents(r.namespace_name, r.name, options_.describe_events)) {
    for (const auto& e : *events) {
      json ev = {{"time", Iso8601Millis(e.time_unix_ms)},
                 {"type", e.type},
                 {"reason", e.reason},
                 {"message", Utf8(e.message)}};
      if (!e.replica.empty()) ev["replica"] = e.replica;
      if (e.count > 1) {
        ev["count"] = e.count;
        ev["lastTime"] = Iso8601Millis(e.last_unix_ms);
      }
      status["events"].push_back(std::move(ev));
    }
  } else {
    core::Log(core::LogLevel::kWarn, "function {}/{}: events: {}", r.namespace_name, r.name,
              events.error().ToString());
  }
  if (live) {
    status["readyReplicas"] = live->ready;
    status["pausedReplicas"] = live->paused;
    status["startingReplicas"] = live->starting;
    status["queued"] = live->queued;
    status["inFlight"] = live->in_flight;
    if (!live->last_error.empty()) status["lastError"] = Utf8(live->last_error);
    if (!live->keep_alive.empty()) status["keepAlive"] = live->keep_alive;
    if (live->last_call.time_since_epoch().count() != 0)
      status["lastInvocation"] = Iso8601(live->last_call);
    for (const auto& rep : live->replicas) {
      status["replicas"].push_back({{"id", rep.id.substr(0, 12)},
                                    {"generation", rep.generation},
                                    {"state", rep.state},
                                    {"inFlight", rep.in_flight},
                                    {"startedAt", Iso8601(rep.started)},
                                    {"lastError", Utf8(rep.last_error)}});
    }
  }
  json spec = json::parse(r.spec_json, nullptr, false);
  json metadata = {{"name", r.name},
                   {"namespace", r.namespace_name},
                   {"creationTimestamp", Iso8601(r.created_unix_ms)},
                   {"labels", json::object()}};
  if (spec.is_object() && spec.contains("metadata") && spec["metadata"].is_object()) {
    // The manifest's labels and annotations, as applied (OpenFaaS's view shows them too).
    for (const char* key : {"labels", "annotations"}) {
      if (spec["metadata"].contains(key) && spec["metadata"][key].is_object()) {
        metadata[key] = spec["metadata"][key];
      }
    }
  }
  return json{{"apiVersion", "gantry.dev/v1"},
              {"kind", "Function"},
              {"metadata", metadata},
              {"spec", spec.is_object() && spec.contains("spec") ? spec["spec"] : json::object()},
              {"status", status}};
}

core::Result<json> Controller::Describe(const std::string& ns, const std::string& name) {
  auto r = store_.GetFunction(ns, name);
  if (!r) return r.error();
  return DescribeRecord(*r);
}

core::Result<json> Controller::List(const std::string& ns) {
  auto records = store_.ListFunctions(ns);
  if (!records) return records.error();
  json items = json::array();
  for (const auto& r : *records) items.push_back(DescribeRecord(r));
  return json{{"apiVersion", "gantry.dev/v1"}, {"kind", "FunctionList"}, {"items", items}};
}

core::Result<store::PutOutcome> Controller::PutSecret(const std::string& ns,
                                                      const std::string& name,
                                                      const std::string& value) {
  // Under apply_mu_: an apply reads secret values before its (slow) build and hands them to
  // the pool after it; a change in between would otherwise be overwritten by the old value.
  std::lock_guard lock(apply_mu_);
  store::SecretRecord record{.namespace_name = ns, .name = name, .value = value};
  auto put = store_.PutSecret(record);
  if (!put || *put != store::PutOutcome::kConfigured) return put;
  // Running replicas get the new value in place (their secrets directory is what they
  // mount); none restarts. The store already holds it, so a replica started after a
  // failure here reads the new value too.
  if (auto updated = pool_.UpdateSecret(ns, name, value); !updated) {
    return updated.error().WithContext(
        fmt::format("secret {}/{} stored, but not every replica has it", ns, name));
  }
  return put;
}

core::Result<std::vector<std::string>> Controller::FunctionsUsingSecret(const std::string& ns,
                                                                        const std::string& name) {
  auto records = store_.ListFunctions(ns);
  if (!records) return records.error();
  std::vector<std::string> users;
  for (const auto& r : *records) {
    // The stored spec is the canonical document: {"apiVersion", "kind", "metadata", "spec"}.
    auto doc = json::parse(r.spec_json, nullptr, false);
    if (!doc.is_object() || !doc.contains("spec") || !doc["spec"].is_object()) continue;
    auto secrets = doc["spec"].value("secrets", json::array());
    if (!secrets.is_array()) continue;
    for (const auto& s : secrets) {
      if (s.is_string() && s.get<std::string>() == name) users.push_back(r.name);
    }
  }
  return users;
}

core::Status Controller::DeleteSecret(const std::string& ns, const std::string& name) {
  // Under apply_mu_, so no function naming it is applied between the check and the delete.
  std::lock_guard lock(apply_mu_);
  auto users = FunctionsUsingSecret(ns, name);
  if (!users) return users.error();
  if (!users->empty()) {
    // Refused rather than left to fail later: the running replicas would keep the last
    // value, but the next replica (or a restart of gantryd) could not start.
    return core::Error::Conflict(
        fmt::format("secret \"{}\" is used by function{} {} in namespace \"{}\": delete "
                    "{} or remove the secret from {} first",
                    name, users->size() == 1 ? "" : "s", fmt::join(*users, ", "), ns,
                    users->size() == 1 ? "it" : "them",
                    users->size() == 1 ? "its spec.secrets" : "their spec.secrets"));
  }
  return store_.DeleteSecret(ns, name);
}

core::Result<json> Controller::ListSecrets(const std::string& ns) {
  auto secrets = store_.ListSecrets(ns);
  if (!secrets) return secrets.error();
  json items = json::array();
  for (const auto& s : *secrets) {
    items.push_back({{"namespace", s.namespace_name},
                     {"name", s.name},
                     {"createdAt", Iso8601(s.created_unix_ms)},
                     {"updatedAt", Iso8601(s.updated_unix_ms)}});
  }
  return items;
}

core::Result<std::vector<std::string>> Controller::Namespaces() {
  return store_.ListNamespaces();
}

}  // namespace gantry::daemon
