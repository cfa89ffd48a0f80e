#include "daemon/deployment_codec.h"

#include <fmt/format.h>

#include <cstdlib>

namespace gantry::daemon {

using nlohmann::json;

double TargetRps(const std::map<std::string, std::string>& labels) {
  auto label = [&](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  const std::string type = label("com.openfaas.scale.type");
  const std::string target = label("com.openfaas.scale.target");
  // OpenFaaS's default type is rps: a target alone means calls per second too.
  if (type != "rps" && !(type.empty() && !target.empty())) return 0;
  double per_replica = std::atof(target.c_str());
  return per_replica > 0 ? per_replica : kOpenFaasDefaultTarget;
}

pool::Deployment DeploymentFor(const spec::FunctionSpec& spec, const builder::BuiltImage& image,
                               int64_t generation,
                               const std::map<std::string, std::string>& secret_values) {
  pool::Deployment d;
  d.namespace_name = spec.namespace_name();
  d.name = spec.name();
  d.generation = generation;
  d.image = image.ref;
  d.http_port = image.http_port;
  d.network = spec.network() == spec::Network::kNone ? pool::NetworkAccess::kNone
                                                     : pool::NetworkAccess::kDefault;
  d.runtime_api = image.runtime_api;
  d.read_only_root = spec.read_only_root();
  // Gantry's templates run as the secrets' owner; an image of the user's, as its own user.
  d.secrets_for_any_user =
      spec.runtime() == spec::Runtime::kImage || spec.runtime() == spec::Runtime::kDockerfile;
  d.env = spec.env();
  // What the image needs from the container (the handler); the spec's own env wins.
  for (const auto& [key, value] : image.env) d.env.emplace(key, value);
  d.secrets = secret_values;
  d.memory_bytes = spec.resources().memory_bytes;
  d.nano_cpus = spec.resources().cpu_millis * 1'000'000;
  d.concurrency = spec.concurrency();
  d.target_rps = TargetRps(spec.labels());
  d.min_replicas = spec.scale().min;
  d.max_replicas = spec.scale().max;
  d.idle_timeout = spec.scale().idle_timeout;
  d.pause_after = spec.scale().pause_after;
  d.keep_alive = spec.scale().keep_alive == spec::KeepAlive::kAdaptive ? pool::KeepAlive::kAdaptive
                                                                       : pool::KeepAlive::kFixed;
  d.timeout = spec.timeout();
  // Calls may wait up to the function's timeout for a slot before 503.
  d.queue_timeout = spec.timeout();
  return d;
}

json DeploymentToJson(const pool::Deployment& d) {
  json secrets = json::array();
  for (const auto& [name, value] : d.secrets) secrets.push_back(name);
  return json{{"namespace", d.namespace_name},
              {"name", d.name},
              {"generation", d.generation},
              {"image", d.image},
              {"httpPort", d.http_port},
              {"network", d.network == pool::NetworkAccess::kNone ? "none" : "default"},
              {"runtimeApi", d.runtime_api},
              {"readOnlyRoot", d.read_only_root},
              {"secretsForAnyUser", d.secrets_for_any_user},
              {"env", d.env},
              {"secrets", secrets},
              {"memoryBytes", d.memory_bytes},
              {"nanoCpus", d.nano_cpus},
              {"pidsLimit", d.pids_limit},
              {"concurrency", d.concurrency},
              {"targetRps", d.target_rps},
              {"minReplicas", d.min_replicas},
              {"maxReplicas", d.max_replicas},
              {"idleTimeoutMs", d.idle_timeout.count()},
              {"pauseAfterMs", d.pause_after.count()},
              {"keepAlive", d.keep_alive == pool::KeepAlive::kAdaptive ? "adaptive" : "fixed"},
              {"timeoutMs", d.timeout.count()},
              {"maxQueue", d.max_queue},
              {"queueTimeoutMs", d.queue_timeout.count()}};
}

core::Result<pool::Deployment> DeploymentFromJson(const json& j) {
  try {
    pool::Deployment d;
    d.namespace_name = j.at("namespace").get<std::string>();
    d.name = j.at("name").get<std::string>();
    d.generation = j.at("generation").get<int64_t>();
    d.image = j.at("image").get<std::string>();
    d.http_port = j.at("httpPort").get<int>();
    // Stored before functions had a network: they get the default, like a new apply would.
    std::string network = j.value("network", "default");
    if (network != "default" && network != "none") {
      return core::Error::Internal(
          fmt::format("stored deployment has an unknown network \"{}\"", network));
    }
    d.network = network == "none" ? pool::NetworkAccess::kNone : pool::NetworkAccess::kDefault;
    d.runtime_api = j.value("runtimeApi", false);      // absent in deployments stored before it
    d.read_only_root = j.value("readOnlyRoot", true);  // likewise
    d.secrets_for_any_user = j.value("secretsForAnyUser", false);
    d.env = j.at("env").get<std::map<std::string, std::string>>();
    for (const auto& name : j.at("secrets")) d.secrets[name.get<std::string>()] = "";
    d.memory_bytes = j.at("memoryBytes").get<int64_t>();
    d.nano_cpus = j.at("nanoCpus").get<int64_t>();
    d.pids_limit = j.at("pidsLimit").get<int64_t>();
    d.concurrency = j.at("concurrency").get<int>();
    d.target_rps = j.value("targetRps", 0.0);  // absent in deployments stored before it
    d.min_replicas = j.at("minReplicas").get<int>();
    d.max_replicas = j.at("maxReplicas").get<int>();
    d.idle_timeout = std::chrono::milliseconds(j.at("idleTimeoutMs").get<int64_t>());
    // Both absent in deployments stored before them: never paused, fixed keep-alive.
    d.pause_after = std::chrono::milliseconds(j.value("pauseAfterMs", int64_t{0}));
    d.keep_alive = j.value("keepAlive", "fixed") == "adaptive" ? pool::KeepAlive::kAdaptive
                                                               : pool::KeepAlive::kFixed;
    d.timeout = std::chrono::milliseconds(j.at("timeoutMs").get<int64_t>());
    d.max_queue = j.at("maxQueue").get<int>();
    d.queue_timeout = std::chrono::milliseconds(j.at("queueTimeoutMs").get<int64_t>());
    return d;
  } catch (const json::exception& e) {
    return core::Error::Internal(fmt::format("stored deployment is malformed: {}", e.what()));
  }
}

}  // namespace gantry::daemon
