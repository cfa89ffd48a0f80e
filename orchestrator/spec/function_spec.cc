#include "spec/function_spec.h"

#include "spec/duration.h"
#include "spec/function_manifest.h"
#include "spec/quantity.h"

namespace gantry::spec {
namespace {

struct RuntimeEntry {
  Runtime runtime;
  std::string_view name;
};

constexpr RuntimeEntry kRuntimes[] = {
    {Runtime::kPython3, "python3"},       {Runtime::kNode, "node"},   {Runtime::kExec, "exec"},
    {Runtime::kDockerfile, "dockerfile"}, {Runtime::kImage, "image"},
};

nlohmann::json StringOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace

std::string_view RuntimeName(Runtime runtime) {
  for (const RuntimeEntry& e : kRuntimes) {
    if (e.runtime == runtime) return e.name;
  }
  return "unknown";
}

std::optional<Runtime> ParseRuntime(std::string_view name) {
  for (const RuntimeEntry& e : kRuntimes) {
    if (e.name == name) return e.runtime;
  }
  return std::nullopt;
}

std::string_view NetworkName(Network network) {
  return network == Network::kNone ? "none" : "default";
}

std::string_view KeepAliveName(KeepAlive keep_alive) {
  return keep_alive == KeepAlive::kAdaptive ? "adaptive" : "fixed";
}

std::optional<Network> ParseNetwork(std::string_view name) {
  if (name == "default") return Network::kDefault;
  if (name == "none") return Network::kNone;
  return std::nullopt;
}

const std::vector<std::string_view>& NetworkNames() {
  static const std::vector<std::string_view> kNames = {"default", "none"};
  return kNames;
}

const std::vector<std::string_view>& RuntimeNames() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> out;
    for (const RuntimeEntry& e : kRuntimes) out.push_back(e.name);
    return out;
  }();
  return kNames;
}

nlohmann::json ToCanonicalJson(const FunctionSpec& spec) {
  // nlohmann::json objects are std::map-backed, so keys come out sorted.
  nlohmann::json metadata = {
      {"name", spec.name()},
      {"namespace", spec.namespace_name()},
      {"labels", nlohmann::json(spec.labels())},
  };
  // Only when given: specs stored before the field existed keep their form (and hash).
  if (!spec.annotations().empty()) metadata["annotations"] = spec.annotations();
  nlohmann::json body = {
      {"runtime", std::string(RuntimeName(spec.runtime()))},
      {"handler", StringOrNull(spec.handler())},
      {"command",
       spec.command().empty() ? nlohmann::json(nullptr) : nlohmann::json(spec.command())},
      {"source", StringOrNull(spec.source())},
      {"dockerfile", StringOrNull(spec.dockerfile())},
      {"image", StringOrNull(spec.image())},
      {"port", spec.port() == 0 ? nlohmann::json(nullptr) : nlohmann::json(spec.port())},
      {"env", nlohmann::json(spec.env())},
      {"secrets", nlohmann::json(spec.secrets())},
      {"resources",
       {{"memory", FormatMemory(spec.resources().memory_bytes)},
        {"cpu", FormatCpu(spec.resources().cpu_millis)}}},
      {"timeout", FormatDuration(spec.timeout())},
      {"concurrency", spec.concurrency()},
      {"network", std::string(NetworkName(spec.network()))},
      {"scale",
       {{"min", spec.scale().min},
        {"max", spec.scale().max},
        {"idleTimeout", FormatDuration(spec.scale().idle_timeout)}}},
  };
  // Only when not the default: specs stored before the field existed keep their form.
  if (spec.protocol() == Protocol::kLambda) body["protocol"] = "lambda";
  if (!spec.read_only_root()) body["readOnlyRootFilesystem"] = false;
  if (!spec.triggers().empty()) {
    nlohmann::json triggers = nlohmann::json::array();
    for (const Trigger& t : spec.triggers()) {
      if (t.kind == Trigger::Kind::kTopic) {
        triggers.push_back({{"topic", t.topic}});
        continue;
      }
      triggers.push_back({{"cron", t.cron},
                          {"timezone", t.timezone},
                          {"missed", t.missed == Trigger::Missed::kSkip ? "skip" : "once"},
                          {"body", t.body},
                          {"headers", nlohmann::json(t.headers)}});
    }
    body["triggers"] = std::move(triggers);
  }
  if (spec.scale().pause_after.count() > 0) {
    body["scale"]["pauseAfter"] = FormatDuration(spec.scale().pause_after);
  }
  if (spec.scale().keep_alive != KeepAlive::kFixed) {
    body["scale"]["keepAlive"] = std::string(KeepAliveName(spec.scale().keep_alive));
  }
  return {
      {"apiVersion", std::string(kApiVersion)},
      {"kind", "Function"},
      {"metadata", std::move(metadata)},
      {"spec", std::move(body)},
  };
}

std::string CanonicalString(const FunctionSpec& spec) {
  // Validation admits only UTF-8, so "replace" never fires; it keeps this from throwing.
  return ToCanonicalJson(spec).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gantry::spec
