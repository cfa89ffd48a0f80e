#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pool/function_table.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool {

// The pool's periodic work, every PoolOptions::control_interval on a thread of its own
// (or by hand: Reconcile, Sweep, HealthCheck): queue deadlines, the autoscaler's decision
// and keep-alive, pausing idle replicas (scale.pauseAfter), draining old generations
// (Reconcile); replicas whose container is gone without an event (Sweep, every
// kSweepEveryPasses passes); shims that stopped answering (HealthCheck, every
// kHealthEveryPasses passes, on a task thread; a paused replica is not probed). Each function is
// handled under its own lock, one after another; engine calls and probes happen with no
// lock held. Thread-safe.
class ControlLoop {
 public:
  static constexpr int kSweepEveryPasses = 10;
  static constexpr int kHealthEveryPasses = 5;
  static constexpr int kHealthStrikes = 2;  // failed checks in a row before a replica is dead
  static constexpr std::chrono::milliseconds kHealthProbeLimit{2'000};

  ControlLoop(FunctionTable& functions, ReplicaLifecycle& lifecycle);
  ~ControlLoop();  // StopThread()s
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // Starts the thread (once).
  void StartThread();
  // Stops and joins it; idempotent.
  void StopThread();
  // Runs a pass now instead of at the end of the interval (a queue got its first call, a
  // replica died).
  void Wake();

  // One pass of the autoscaler and deadlines over every function.
  void Reconcile();
  // Marks dead the ready replicas whose container the engine no longer lists as running:
  // the events stream can miss a death while it reconnects; the engine's list cannot.
  void Sweep();
  // Probes every ready running (not paused) shim replica; one failing kHealthStrikes
  // checks in a row is dead
  // (and replaced). Images serving HTTP themselves are left to the events stream and
  // Lease::Fail: probing "/" would call the function.
  void HealthCheck();

 private:
  void Loop();
  void ReconcileLocked(FunctionReplicas& fn, core::SteadyTime now, Deferred& deferred);
  // Pauses the ready replicas of the current generation idle for scale.pauseAfter (none
  // while calls wait); the engine call runs on a task thread (ReplicaLifecycle::PauseLocked).
  void PauseIdleLocked(FunctionReplicas& fn, core::SteadyTime now);
  // How long the loop may sleep: the interval, or less when a queued call's deadline or a
  // start plan's "plan again at" (DemandEstimate::replan_at) comes first.
  std::chrono::milliseconds NextWait();

  FunctionTable& functions_;
  ReplicaLifecycle& lifecycle_;
  std::atomic<bool> health_running_{false};

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool loop_stop_ = false;  // guarded by loop_mu_
  bool loop_wake_ = false;  // guarded by loop_mu_
  std::thread thread_;
};

}  // namespace gantry::pool
