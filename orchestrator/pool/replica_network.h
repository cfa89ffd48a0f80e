#pragma once

#include <string>

#include "core/result.h"
#include "docker/docker_client.h"
#include "pool/pool.h"

namespace gantry::pool {

// The engine's network mode for "the default bridge": what a pool without a network of its
// own (no name, no instance id) puts replicas on.
inline constexpr const char* kDefaultBridge = "bridge";

// The network a pool's replicas sit on: options.network, else "gantry-<instance_id>", else
// kDefaultBridge.
std::string ReplicaNetworkName(const PoolOptions& options);

// What the pool's network is created with: a bridge whose containers cannot reach each
// other (com.docker.network.bridge.enable_icc=false) and whose published ports bind to
// 127.0.0.1 unless told otherwise, labelled `labels`. Pure.
docker::NetworkSpec ReplicaNetworkSpec(const std::string& name, const docker::Labels& labels);

// Makes sure the network `name` exists and is ours: creates it (ReplicaNetworkSpec) when
// missing, adopts it when it carries every one of `labels`. Does nothing for
// kDefaultBridge. Safe to call from several threads or processes at once (a create that
// loses the race adopts the winner's). Errors: kConflict when a network of that name
// exists without our labels (another gantryd's, or the user's: never touched), else the
// engine's (inspect or create), with the network named.
core::Status EnsureReplicaNetwork(docker::DockerClient& docker, const std::string& name,
                                  const docker::Labels& labels);

}  // namespace gantry::pool
