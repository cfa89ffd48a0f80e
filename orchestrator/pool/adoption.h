#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "pool/pool.h"
#include "pool/replica.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool {

// A running container Start keeps: a ready replica of `function` ("ns/name").
struct AdoptedReplica {
  std::string function;
  std::shared_ptr<Replica> replica;
};

// What a restarted pool finds: lists this pool's containers (Selector(), stopped ones
// too) and keeps those of a current deployment's generation (by their labels; a stem
// cell's by its owner marker: a free cell is always removed) that run on the expected
// network, carry a replica key, publish the deployment's port and answer the readiness
// probe within kAdoptProbeLimit; removes every other one with its run dir, and run_dir
// entries named like replicas it did not keep. Engine calls and probes run on the calling
// thread; touches no function's state (the caller adds the replicas). Errors: the
// engine's, listing containers; a failed removal is logged and skipped. A paused one
// (scale.pauseAfter) is unpaused and then judged as a running one (removed if that fails).
core::Result<std::vector<AdoptedReplica>> AdoptOrRemoveContainers(
    ReplicaLifecycle& lifecycle, const std::vector<Deployment>& current);

// Whether `s` is a replica key ("r" and ten hex digits), as run dirs are named.
bool IsReplicaKey(const std::string& s);

}  // namespace gantry::pool
