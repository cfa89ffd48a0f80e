// ReplicaLifecycle's pause and unpause (scale.pauseAfter): a ready replica idle for
// pause_after is frozen by the engine (no CPU, memory kept); the next call, or a prewarm,
// unpauses it, and it serves at once, with no readiness probe (its shim was ready when
// paused). Measured on this engine (20.10): stop, kill and forced removal of a paused
// container work as for a running one (the engine unpauses it after sending the signal:
// a stop is still graceful, ~150 ms), so retiring a paused replica needs no unpause.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/log.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool {

using core::SteadyTime;
using LogLevel = core::LogLevel;

void ReplicaLifecycle::PauseLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica) {
  if (stopping_ || replica->state != ReplicaState::kReady ||
      replica->pause != PauseState::kRunning || replica->in_flight > 0 || replica->abandoned ||
      replica->retiring || replica->id.empty()) {
    return;
  }
  replica->pause = PauseState::kPausing;
  replica->unpause_wanted = false;
  auto self = fn.shared_from_this();
  if (!runner_.Post([this, self, replica] { PauseTask(self, replica); })) {
    replica->pause = PauseState::kRunning;
  }
}

void ReplicaLifecycle::UnpauseLocked(FunctionReplicas& fn,
                                     const std::shared_ptr<Replica>& replica) {
  if (replica->state != ReplicaState::kReady || replica->abandoned || stopping_) return;
  if (replica->pause == PauseState::kPausing) {
    replica->unpause_wanted = true;  // PauseTask unpauses it when the engine has answered
    return;
  }
  if (replica->pause != PauseState::kPaused) return;
  replica->pause = PauseState::kUnpausing;
  replica->last_used = clock_.Now();  // wanted now: not idle (nor drained as idle) meanwhile
  auto self = fn.shared_from_this();
  if (!runner_.Post([this, self, replica] { UnpauseTask(self, replica); })) {
    replica->pause = PauseState::kPaused;
  }
}

void ReplicaLifecycle::UnpauseForQueueLocked(FunctionReplicas& fn) {
  if (fn.queue.empty() || fn.removed || stopping_) return;
  int uncovered = static_cast<int>(fn.queue.size());
  std::vector<std::shared_ptr<Replica>> paused;
  for (const auto& [k, r] : fn.replicas) {
    if (r->state != ReplicaState::kReady || r->abandoned) continue;
    bool coming = r->pause == PauseState::kRunning || r->pause == PauseState::kUnpausing ||
                  (r->pause == PauseState::kPausing && r->unpause_wanted);
    if (coming) {
      uncovered -= r->slots - r->in_flight;
    } else {
      paused.push_back(r);
    }
  }
  if (uncovered <= 0 || paused.empty()) return;
  const int64_t current = fn.deployment.generation;
  std::sort(paused.begin(), paused.end(), [&](const auto& a, const auto& b) {
    bool a_current = a->generation == current, b_current = b->generation == current;
    return a_current != b_current ? a_current : a->last_used > b->last_used;
  });
  for (const auto& r : paused) {
    if (uncovered <= 0) break;
    UnpauseLocked(fn, r);
    uncovered -= r->slots - r->in_flight;
  }
}

void ReplicaLifecycle::PauseTask(const std::shared_ptr<FunctionReplicas>& fn,
                                 const std::shared_ptr<Replica>& replica) {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    id = replica->id;
  }
  core::Status paused = docker_.PauseContainer(id);
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    SteadyTime now = clock_.Now();
    bool wanted = replica->unpause_wanted;
    replica->unpause_wanted = false;
    if (paused) {
      replica->pause = PauseState::kPaused;
      core::Log(LogLevel::kInfo, "pool: {} replica {} paused", fn->key, replica->key);
      if (wanted) UnpauseLocked(*fn, replica);  // a call came while it was pausing
    } else {
      replica->pause = PauseState::kRunning;
      replica->no_pause_before = now + fn->deployment.pause_after;
      core::Log(LogLevel::kWarn, "pool: {} replica {}: pause: {} (it keeps running)", fn->key,
                replica->key, paused.error().ToString());
      if (replica->state == ReplicaState::kReady && fn->OwnsLocked(*replica) && !stopping_) {
        DispatchLocked(*fn, /*cold=*/false, now, deferred);  // calls that came meanwhile
        EnsureCapacityLocked(*fn, now);
      }
    }
    fn->changed.notify_all();
  }
  RunDeferred(deferred);
}

void ReplicaLifecycle::UnpauseTask(const std::shared_ptr<FunctionReplicas>& fn,
                                   const std::shared_ptr<Replica>& replica) {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    id = replica->id;
  }
  core::Status unpaused = docker_.UnpauseContainer(id);
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    SteadyTime now = clock_.Now();
    bool serving = replica->state == ReplicaState::kReady && !replica->abandoned && !stopping_;
    if (!unpaused) {
      replica->pause = PauseState::kPaused;
      if (serving) {
        MarkDeadLocked(*fn, replica, "unpause failed: " + unpaused.error().message(), deferred);
      }
    } else {
      replica->pause = PauseState::kRunning;
      replica->last_used = now;  // idle from now: not paused again at once
      core::Log(LogLevel::kInfo, "pool: {} replica {} unpaused ({} calls queued)", fn->key,
                replica->key, fn->queue.size());
      if (serving && fn->OwnsLocked(*replica)) {
        // The calls that waited for it are served now, with no probe: its shim was ready.
        replica->unpaused = true;
        DispatchLocked(*fn, /*cold=*/false, now, deferred);
        replica->unpaused = false;
        EnsureCapacityLocked(*fn, now);
      }
    }
    fn->changed.notify_all();
  }
  RunDeferred(deferred);
}

}  // namespace gantry::pool
