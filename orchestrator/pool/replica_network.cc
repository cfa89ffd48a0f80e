#include "pool/replica_network.h"

#include <fmt/format.h>

#include "core/log.h"

namespace gantry::pool {
namespace {

constexpr const char* kIccOption = "com.docker.network.bridge.enable_icc";

core::Status CheckOurs(const docker::NetworkInfo& info, const std::string& name,
                       const docker::Labels& labels) {
  // GET /networks/{x} also matches an id prefix: only the exact name is ours to use.
  if (info.name != name) {
    return core::Error::Conflict(
        fmt::format("network {}: the engine answered with network {}", name, info.name));
  }
  for (const auto& [key, value] : labels) {
    auto it = info.labels.find(key);
    if (it == info.labels.end() || it->second != value) {
      return core::Error::Conflict(fmt::format(
          "network {} exists but is not this gantryd's (it lacks the label {}={}); remove it or "
          "give gantryd another --state-dir",
          name, key, value));
    }
  }
  auto icc = info.options.find(kIccOption);
  if (icc == info.options.end() || icc->second != "false") {
    // Ours, but made by something else than ReplicaNetworkSpec: say so rather than fix it
    // (recreating it would cut off running replicas).
    core::Log(core::LogLevel::kWarn,
              "pool: network {} lets containers reach each other ({} is not false)", name,
              kIccOption);
  }
  return core::Ok();
}

}  // namespace

std::string ReplicaNetworkName(const PoolOptions& options) {
  if (!options.network.empty()) return options.network;
  if (!options.instance_id.empty()) return "gantry-" + options.instance_id;
  return kDefaultBridge;
}

docker::NetworkSpec ReplicaNetworkSpec(const std::string& name, const docker::Labels& labels) {
  return docker::NetworkSpec{
      .name = name,
      .driver = "bridge",
      .labels = labels,
      .options = {{kIccOption, "false"},
                  {"com.docker.network.bridge.host_binding_ipv4", "127.0.0.1"}}};
}

core::Status EnsureReplicaNetwork(docker::DockerClient& docker, const std::string& name,
                                  const docker::Labels& labels) {
  if (name == kDefaultBridge) return core::Ok();
  auto info = docker.InspectNetwork(name);
  if (!info && info.error().code() == core::ErrorCode::kNotFound) {
    auto created = docker.CreateNetwork(ReplicaNetworkSpec(name, labels));
    if (created) {
      core::Log(core::LogLevel::kInfo, "pool: created network {} ({})", name,
                created->substr(0, 12));
      return core::Ok();
    }
    if (created.error().code() != core::ErrorCode::kConflict) {
      return created.error().WithContext(fmt::format("create network {}", name));
    }
    info = docker.InspectNetwork(name);  // made by someone else meanwhile
  }
  if (!info) return info.error().WithContext(fmt::format("network {}", name));
  return CheckOurs(*info, name, labels);
}

}  // namespace gantry::pool
