#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "pool/container_spec.h"
#include "pool/pool.h"

namespace gantry::pool {

// starting -> ready -> draining -> (removed); any of them -> dead -> (removed). Nothing
// goes back: a draining or dead replica is never leased again.
enum class ReplicaState { kStarting, kReady, kDraining, kDead };

std::string_view ReplicaStateName(ReplicaState state);

// A ready replica's container: running, or paused by the engine after scale.pauseAfter
// idle (frozen: no CPU, memory kept, its shim answers nothing; still a live replica).
// Only a running one takes calls. kPausing and kUnpausing: the engine call is on a task
// thread (ReplicaLifecycle::PauseLocked / UnpauseLocked).
enum class PauseState { kRunning, kPausing, kPaused, kUnpausing };

// One container of a function, as the pool keeps it in memory. Plain data: every field
// except `abandoned` is guarded by the mutex of the FunctionReplicas holding it.
struct Replica {
  std::string key;  // the gantry.replica label; names the run dir and the container
  std::string id;   // container id; empty until created
  int64_t generation = 0;
  int slots = 1;
  ReplicaState state = ReplicaState::kStarting;
  int in_flight = 0;
  bool task_active = false;  // a start task is running for it
  bool retiring = false;     // a removal task owns it
  Endpoint endpoint;
  ReplicaPaths paths;
  core::SteadyTime last_used{};  // when it became ready or last finished a call
  core::SteadyTime ready_at{};
  std::chrono::system_clock::time_point started{};
  std::string last_error;
  int health_strikes = 0;          // failed health checks in a row
  bool out_of_memory = false;      // the engine reported an OOM kill inside the container
  bool container_started = false;  // StartContainer succeeded (its log can be read)
  int exit_code = -1;              // dead: the container's exit code when known
  bool died_before_ready = false;  // dead while starting
  std::string removal_reason;      // drained on purpose: why (the kReplicaRemoved event)
  bool from_stem_cell = false;     // specialised from a stem cell, not created for it
  PauseState pause = PauseState::kRunning;
  bool unpause_wanted = false;         // kPausing: unpause as soon as the pause returns
  bool unpaused = false;               // in the hand-off at its unpause: leases say kUnpaused
  core::SteadyTime no_pause_before{};  // a pause failed: not tried again before this
  // Set when nobody wants the replica any more (it died, its function was removed, the
  // pool stops): a start in progress gives up. Read without the mutex by the probe.
  std::atomic<bool> abandoned{false};
};

}  // namespace gantry::pool
