#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "builder/builder.h"
#include "core/result.h"
#include "daemon/function_events.h"
#include "docker/docker_client.h"
#include "pool/pool.h"
#include "spec/function_spec.h"
#include "store/store.h"

namespace gantry::daemon {

struct ControllerOptions {
  std::string state_dir = "/var/lib/gantry";  // uploads are unpacked under <state_dir>/uploads
  // Told the outcome of every image build an apply needed: "built", "cached" or "failed"
  // (for gantry_builds_total). Optional.
  std::function<void(std::string_view outcome)> on_build;
  // Told each function deleted, after its replicas and record are gone (gantryd: its
  // output leaves the log store, so a function made again under the name starts clean).
  // Optional.
  std::function<void(const std::string& ns, const std::string& name)> on_delete;
  // What every container and image this gantryd makes carries (gantry.instance=<id> and
  // the --label pairs): deleting images selects by it, so another
  // instance's objects are never touched.
  docker::LabelSelector identity;
  // Where the controller's own events go (Built, BuildFailed, RolledOut); not owned.
  // Optional: without it no events are recorded (the store still lists what others wrote).
  FunctionEvents* events = nullptr;
  int describe_events = 20;  // the newest this many events in Describe's status.events
  // Called with each deployment before the pool gets it (apply and start) and the
  // function's canonical spec (spec::ToCanonicalJson): sets Deployment::stem when stem
  // cells may serve it (daemon/stem_packages.h). Optional: without it no deployment has one.
  std::function<void(pool::Deployment& d, const nlohmann::json& spec)> attach_stem;
};

// What an apply did.
struct ApplyOutcome {
  std::string result;  // "created", "configured", "unchanged" (or "valid" for a dry run)
  int64_t generation = 0;
  std::string image;
  bool built = false;  // an image was built (not a cache hit)
  std::string digest;  // the bundle digest now deployed

  nlohmann::json ToJson(const std::string& ns, const std::string& name) const;
};

// The desired-state side of gantryd: turns applies into images (builder), records
// (store) and replicas (pool); answers what is deployed. One apply at a time (builds are
// CPU-bound here anyway); reads run concurrently. Thread-safe.
//
// Errors: each method lists the codes it makes itself. "The store's" are store::Store's
// (kInvalidArgument for a value over its size limit, kUnavailable when the database is
// busy, kInternal otherwise); "the engine's" are docker::DockerClient's (kUnavailable when
// it can't be reached, kNotFound, kInternal); "the pool's" are those of the pool::Pool
// method named. The API maps them to HTTP once (gateway/error_mapping.h).
class Controller {
 public:
  Controller(store::Store& store, builder::Builder& builder, pool::Pool& pool,
             docker::DockerClient& docker, ControllerOptions options);

  // Hands the stored deployments to the pool (which adopts or removes containers). A
  // function whose stored deployment can't be read is left out (logged); one whose secret
  // is gone is left out and marked "failed". Errors: the store's; Pool::Start's.
  core::Status Start();

  // Applies an uploaded bundle (see builder/bundle.h) for ns/name: validates it again,
  // builds (unless the tag exists), records a new generation and rolls it out. Unchanged
  // digest: nothing is built or restarted. `dry_run`: validate only (result "valid"; the
  // secrets must exist), nothing is written. Errors: kInvalidArgument when the bundle is
  // not a safe archive with function.json, its manifest is invalid (every error listed) or
  // not exactly one Function, it names another function than ns/name, or a secret it lists
  // does not exist in ns; otherwise as ApplySpec.
  // `progress` (optional) is told each line of the build's output as it comes, on this
  // thread.
  core::Result<ApplyOutcome> ApplyBundle(const std::string& ns, const std::string& name,
                                         std::string_view bundle, bool dry_run,
                                         const docker::BuildProgressFn& progress = nullptr);
  // Applies a spec whose source (if any) is on disk; `digest` names it for "unchanged".
  // Result "created", "configured" or "unchanged". Errors: kInvalidArgument for a secret
  // the spec lists that does not exist in its namespace; Builder::Build's (kNotFound for a
  // missing source, shim or runtime-image image, kInvalidArgument for a failed build step,
  // the engine's); the store's; Pool::Apply's (kInternal when the new generation's
  // replicas fail, kInvalidArgument, kConflict, kUnavailable). A failure of an existing
  // function is also recorded as its status "failed" with the message as last error.
  core::Result<ApplyOutcome> ApplySpec(const spec::FunctionSpec& spec, const std::string& digest,
                                       const docker::BuildProgressFn& progress = nullptr);
  // The stored record when ns/name is deployed with exactly this bundle digest, not
  // failed, running in the pool and its image still on the engine; nullopt otherwise
  // (also when the store or engine fails: the apply then does the work). Never an error.
  std::optional<store::FunctionRecord> Unchanged(const std::string& ns, const std::string& name,
                                                 const std::string& digest);
  bool IsUnchanged(const std::string& ns, const std::string& name, const std::string& digest) {
    return Unchanged(ns, name, digest).has_value();
  }

  // Drains and removes the function's replicas, record and images (only this instance's).
  // Errors: kNotFound if unknown; the store's; Pool::Remove's other than kNotFound. An
  // image that can't be listed or removed is logged, not an error.
  core::Status Delete(const std::string& ns, const std::string& name);
  // Sets the replica count now, held as Pool::Scale's `hold` says. Errors: kNotFound if
  // unknown; kInvalidArgument, naming the bounds, when `replicas` is outside the function's
  // [scale.min, scale.max] ([0, scale.max] for kUntilCall); kInternal when the stored
  // deployment can't be read; the store's; Pool::Scale's (kNotFound when the pool has no
  // such function).
  core::Status Scale(const std::string& ns, const std::string& name, int64_t replicas,
                     pool::ScaleHold hold = pool::ScaleHold::kIdleTimeout);

  // {"metadata" {"name", "namespace", "creationTimestamp"}, "spec" (canonical), "status"
  // {"phase" (daemon/function_phase.h: Building, BuildFailed, Ready, ScaledToZero,
  // Degraded, CrashLoop), "reason" (user terms, "" when none), "nextRetry" (CrashLoop's
  // next start, or null), "readyReplicas", "pausedReplicas" (of the ready ones: paused,
  // scale.pauseAfter), "startingReplicas", "currentReplicas" (ready + starting),
  // "desiredReplicas", "failuresInARow", "lastLogLines" (the last failed
  // replica's last lines), "events" (the newest options.describe_events, oldest first:
  // {"time", "type", "reason", "message", "replica"?, "count"?, "lastTime"?}), "replicas"
  // [{"id", "generation", "state", ...}], "generation", "image", "lastError",
  // "invocations" (CountInvocationsWith), ...}}, times
  // as ISO-8601 UTC. Errors: kNotFound if unknown; the store's.
  core::Result<nlohmann::json> Describe(const std::string& ns, const std::string& name);
  // {"kind": "FunctionList", "items": Describe() of every function of `ns` ("" = all
  // namespaces)}; none is an empty list. Errors: the store's.
  core::Result<nlohmann::json> List(const std::string& ns);

  // Creates or changes a secret. A changed value reaches every running replica of every
  // function in `ns` that uses it within the call (pool::Pool::UpdateSecret: the file in
  // the replica's secrets directory is replaced atomically; no restart, no new generation).
  // Errors: the store's (nothing stored); Pool::UpdateSecret's (kInternal naming a replica)
  // after the value is stored.
  core::Result<store::PutOutcome> PutSecret(const std::string& ns, const std::string& name,
                                            const std::string& value);
  // Deletes a secret no function uses. Errors: kConflict naming the functions of `ns` whose
  // spec lists it (delete them or drop the secret from them first); kNotFound; the store's.
  core::Status DeleteSecret(const std::string& ns, const std::string& name);
  // [{"namespace", "name", "createdAt", "updatedAt"}] — never values. Errors: the store's.
  core::Result<nlohmann::json> ListSecrets(const std::string& ns);
  // The namespaces holding a function or a secret, sorted. Errors: the store's.
  core::Result<std::vector<std::string>> Namespaces();

  pool::Pool& pool() { return pool_; }

  // How Describe counts a function's calls ("invocations" in its status: the gateway's
  // count since this gantryd started). Set once, before the API serves; unset: 0.
  using InvocationCounter = std::function<std::uint64_t(const std::string&, const std::string&)>;
  void CountInvocationsWith(InvocationCounter counter) { invocations_ = std::move(counter); }

  // Queues an event of ns/name (when options_.events is set): `describe` shows it.
  void RecordEvent(const std::string& ns, const std::string& name, const std::string& type,
                   const std::string& reason, const std::string& message);

 private:
  InvocationCounter invocations_;
  core::Result<std::map<std::string, std::string>> SecretValues(
      const std::string& ns, const std::vector<std::string>& names);
  // The names of the functions of `ns` whose stored spec lists secret `name`.
  core::Result<std::vector<std::string>> FunctionsUsingSecret(const std::string& ns,
                                                              const std::string& name);
  nlohmann::json DescribeRecord(const store::FunctionRecord& record);
  // Stores a function's status; a failure is logged (the caller's outcome stands).
  void RecordStatus(const std::string& ns, const std::string& name, const std::string& status,
                    const std::string& last_error);
  // options_.identity plus the function's own labels.
  docker::LabelSelector FunctionSelector(const std::string& ns, const std::string& name) const;

  store::Store& store_;
  builder::Builder& builder_;
  pool::Pool& pool_;
  docker::DockerClient& docker_;
  ControllerOptions options_;
  std::mutex apply_mu_;  // one apply or delete at a time
};

}  // namespace gantry::daemon
