#pragma once

// Private to the pool: what a Lease holds (pool.h declares Lease::State only).

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "pool/defaults.h"
#include "pool/pool.h"

namespace gantry::pool {

class FunctionReplicas;
struct Replica;

// One leased slot. Destroying it gives the slot back (ReplicaLifecycle::Release); it keeps
// the lifecycle and the function alive, so a Lease may outlive the Pool. The copies of
// endpoint and id are the replica's when leased, readable without any lock.
struct Lease::State {
  std::shared_ptr<ReplicaLifecycle> lifecycle;
  std::shared_ptr<FunctionReplicas> function;
  std::shared_ptr<Replica> replica;
  Endpoint endpoint;
  std::string replica_id;
  int64_t generation = 0;
  bool cold = false;
  StartPath start = StartPath::kWarm;
  std::chrono::milliseconds timeout = kDefaultCallTimeout;
  int64_t memory_bytes = 0;      // the function's memory limit (what a call is billed for)
  core::SteadyTime leased_at{};  // the call's start: Release measures its duration

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State();
};

}  // namespace gantry::pool
