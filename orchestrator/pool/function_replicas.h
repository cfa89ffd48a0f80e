#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "autoscaler/demand_estimate.h"
#include "autoscaler/keep_alive.h"
#include "core/clock.h"
#include "core/result.h"
#include "pool/deferred.h"
#include "pool/pool.h"
#include "pool/replica.h"

namespace gantry::pool {

// A call waiting for a slot (Pool::Acquire found none free).
struct Waiter {
  AcquireCallback done;
  core::SteadyTime deadline;  // kTimeout after this
};

// One function: its replicas of every generation, the calls waiting for a slot on them and
// the autoscaler's view of its load. Its own mutex `mu` guards every member below it and
// every field of its replicas (except Replica::abandoned), so the warm path — a call
// taking a slot, a Lease giving it back — takes only this function's lock, never one
// shared by all functions. Methods named ...Locked need `mu` held; they touch memory only
// (no engine, file or socket call) and never take another lock, so `mu` is never held
// across I/O. Starting and retiring replicas is ReplicaLifecycle's job; this type only
// keeps and counts them. Shared (shared_ptr) by the function table, leases, and tasks
// still running for its replicas.
class FunctionReplicas : public std::enable_shared_from_this<FunctionReplicas> {
 public:
  FunctionReplicas(std::string key, const Deployment& deployment);

  const std::string key;  // "ns/name"
  // Set once by Remove, never cleared; readable without `mu` (the function table drops
  // a removed function without taking it).
  std::atomic<bool> removed{false};

  mutable std::mutex mu;
  std::condition_variable changed;  // a replica started, failed or went away

  // guarded by mu:
  Deployment deployment;                                     // the current generation
  std::map<std::string, std::shared_ptr<Replica>> replicas;  // by key, every generation
  std::deque<Waiter> queue;
  autoscaler::ConcurrencyWindow window;
  autoscaler::RateWindow arrivals;  // calls as they arrive (Deployment::target_rps)
  autoscaler::Autoscaler scaler;
  autoscaler::DemandEstimate demand;  // what starts and calls take: ReplicasToStartForQueue
  std::optional<core::SteadyTime> last_call;
  std::chrono::system_clock::time_point last_call_wall{};
  std::string last_error;
  // The last replica failure in user terms and what goes with it (FunctionStatus).
  std::string last_failure;
  std::chrono::system_clock::time_point last_failure_time{};
  bool last_failure_before_ready = false;
  std::vector<LogLine> last_lines;
  int desired = 0;            // the last decided replica count
  std::optional<int> manual;  // Scale() holds this count until manual_until
  core::SteadyTime manual_until{};
  // ScaleHold::kUntilCall: `manual` may be below scale.min and holds until the next call.
  bool manual_until_call = false;
  int start_failures = 0;          // in a row; reset by a replica getting ready
  core::SteadyTime retry_after{};  // no new start before this after failures
  std::mt19937_64 rng;             // replica keys
  // Idle times between calls (keep_alive_control.h), and since when it is idle: set when
  // its last call ended with none waiting, cleared when the next arrives.
  autoscaler::IdleHistogram idle_times;
  std::optional<core::SteadyTime> idle_since;

  // A new deployment of the same function (same or newer generation): settings and the
  // autoscaler's policy follow it.
  void SetDeploymentLocked(const Deployment& d);
  // A replica key unused in this function ("r" and ten hex digits).
  std::string NewReplicaKeyLocked();
  void AddLocked(std::shared_ptr<Replica> replica);
  // Drops `replica` if it is still this function's (not a later one of the same key).
  void EraseLocked(const std::shared_ptr<Replica>& replica);
  bool OwnsLocked(const Replica& replica) const;
  // `secrets` (a deployment's, copied earlier) with each value as the current deployment
  // has it now: UpdateSecret may have replaced one since.
  std::map<std::string, std::string> CurrentSecretsLocked(
      std::map<std::string, std::string> secrets) const;

  // Takes a slot on the best ready running (not paused) replica with one free — current
  // generation first, then the busiest (packing calls lets the others go idle and be
  // scaled down), then the most recently used — and returns it; null when no such replica
  // has a free slot.
  std::shared_ptr<Replica> TakeSlotLocked(core::SteadyTime now);
  // A call arrived (before it looks for a slot): counts the idle time it ends, if any.
  void CallArrivedLocked(core::SteadyTime now);
  // Gives back a slot TakeSlotLocked took (the replica need not be this function's any
  // more) and marks the replica used now.
  void GiveSlotBackLocked(Replica& replica, core::SteadyTime now);
  // Records the calls in flight in the autoscaler's window (not the queued ones: replicas
  // for waiting calls are ReplicasToStartForQueue's).
  void UpdateWindowLocked(core::SteadyTime now);

  // Replicas of the current generation starting or ready (not given up).
  int ActiveLocked() const;
  // A replica is ready (any generation) or one of the current generation is starting:
  // a queued call can still be served.
  bool HasLiveOrStartingReplicaLocked() const;

  // Answers every queued call with `error` (after the lock is released, through `deferred`).
  void FailWaitersLocked(const core::Error& error, Deferred& deferred);
  // Answers queued calls whose deadline has passed with kTimeout.
  void ExpireWaitersLocked(core::SteadyTime now, Deferred& deferred);

 private:
  int in_flight_ = 0;  // guarded by mu: the sum of in_flight over `replicas`
};

// The capacity decision for calls waiting: how many replicas to start now, as the start
// planner asks (autoscaler/start_planner.h) from fn.demand: only for the queued calls the
// replicas ready and starting would not take by the time a start is ready, at most one per
// `concurrency` calls beyond the slots free or coming, never beyond scale.max, and none
// while the start back-off lasts, the queue is empty or the function is removed. Remembers
// in fn.demand when to plan again (DemandEstimate::replan_at). The one place this is
// decided; needs fn.mu held.
int ReplicasToStartForQueue(FunctionReplicas& fn, core::SteadyTime now);

// The autoscaler's policy for a deployment.
autoscaler::Policy PolicyFor(const Deployment& d);

}  // namespace gantry::pool
