#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/result.h"
#include "docker/docker_client.h"
#include "pool/deferred.h"
#include "pool/function_replicas.h"
#include "pool/pool.h"
#include "pool/readiness.h"
#include "pool/replica.h"
#include "pool/stem_cells.h"
#include "pool/stem_specialize.h"
#include "pool/task_runner.h"

namespace gantry::pool {

// A replica's life: start (files, create, start, readiness: StartTask, ending in
// EndStart), ready (paused while idle and unpaused for a call: PauseLocked, UnpauseLocked,
// in replica_pause.cc), then drain, retire (stop, remove, files: RetireTask) or death
// (MarkDeadLocked). Also the two ends of a lease: handing a ready replica's slot to a call
// (LeaseLocked, DispatchLocked) and taking it back (Release, Fail). Its engine, file and
// probe calls happen only on its task threads (TaskRunner), never under a function's lock; the
// ...Locked methods need the given function's `mu` held and only decide and post tasks.
// Thread-safe. Shared by the pool and every Lease (a Lease may outlive the Pool).
//
// Lock order: secrets_mu (secrets_mutex()) before a function's mu; the container registry's
// lock is a leaf taken under a function's mu.
class ReplicaLifecycle : public std::enable_shared_from_this<ReplicaLifecycle> {
 public:
  // `replan` is called (under a function's mu, never after BeginStop) when a start plan
  // asks to be made again at a new time (DemandEstimate::replan_at): the control loop,
  // which may sleep a whole control_interval, must plan again then (ControlLoop::Wake).
  ReplicaLifecycle(docker::DockerClient& docker, PoolOptions options,
                   std::function<void()> replan = {});

  const PoolOptions& options() const { return options_; }
  core::Clock& clock() const { return clock_; }
  ReadinessProbe& probe() const { return probe_; }
  docker::DockerClient& docker() const { return docker_; }
  // extra_labels and the instance label: on every container, in every selector.
  const docker::Labels& labels() const { return labels_; }
  // What replicas with NetworkAccess::kDefault sit on.
  const std::string& network() const { return network_; }
  // The free stem cells (stem_cells.h); a start of a deployment with a `stem` takes one.
  StemCells& stem_cells() const { return *stem_cells_; }
  // Selects this pool's containers, replicas and stem cells: gantry.replica plus every
  // identity label.
  docker::LabelSelector Selector() const;
  // The network mode a replica of `d` runs with; a container on another one is replaced.
  std::string ExpectedNetworkMode(const Deployment& d) const;

  bool stopping() const { return stopping_.load(); }
  // From now on nothing starts and ending starts leave their containers as they are.
  void BeginStop() { stopping_ = true; }
  // Drops queued tasks and waits for running ones; every hand-off already decided reaches
  // its caller. After it, posted tasks are dropped.
  void ShutdownTasks();
  // Blocks until no task (start, removal, hand-off) is queued or running.
  void Flush();
  // Runs `task` on a task thread; false after ShutdownTasks.
  bool Post(std::function<void()> task) { return runner_.Post(std::move(task)); }
  // Held by whoever writes replicas' secret files (a start writing them all, an update
  // replacing one): whoever holds it reads the values from the deployment and writes them,
  // so a start never writes a value an update has already replaced.
  std::mutex& secrets_mutex() { return secrets_mu_; }

  // Tells options().on_event (when set) `event`; never call it under a function's lock.
  void Emit(const PoolEvent& event) const;
  // An event of `kind` about `replica` of fn (namespace, name, generation, container id,
  // now); fn.mu held.
  static PoolEvent EventLocked(const FunctionReplicas& fn, const Replica* replica,
                               PoolEvent::Kind kind);
  // Defers Emit(event) through `deferred` (which runs once fn.mu is released).
  void EmitLater(PoolEvent event, Deferred& deferred) const;

  // ---- leases ----
  // A lease on the best free slot of `fn` (FunctionReplicas::TakeSlotLocked); nullopt when
  // none is free.
  std::optional<Lease> LeaseLocked(FunctionReplicas& fn, bool cold, core::SteadyTime now);
  // Hands free slots to queued calls, in order (the callbacks run through `deferred`).
  void DispatchLocked(FunctionReplicas& fn, bool cold, core::SteadyTime now, Deferred& deferred);
  // A Lease was dropped: its slot goes back and to the next queued call (on the dispatcher
  // thread, never the dropping one, which may hold its own locks that the next call's
  // callback takes too); a draining replica with no call left is retired. The call's
  // duration (since `leased_at`) goes into fn.demand, and what it took may call for a
  // start for the calls still queued (EnsureCapacityLocked). Takes only fn's lock.
  void Release(const std::shared_ptr<FunctionReplicas>& fn, const std::shared_ptr<Replica>& replica,
               core::SteadyTime leased_at);
  // A call found the replica broken: dead at once, replaced. Takes only fn's lock.
  void Fail(const std::shared_ptr<FunctionReplicas>& fn, const std::shared_ptr<Replica>& replica,
            const std::string& reason);

  // ---- starting and ending replicas (fn.mu held) ----
  // Starts one replica of fn's current generation in the background; null when stopping.
  std::shared_ptr<Replica> StartReplicaLocked(FunctionReplicas& fn);
  // Unpauses paused replicas for fn's queued calls (UnpauseForQueueLocked), then starts what
  // ReplicasToStartForQueue decides for them (a paused replica's slots count as free);
  // calls `replan` when the plan asks to be made again at a new time.
  void EnsureCapacityLocked(FunctionReplicas& fn, core::SteadyTime now);
  // Back to the last decided count (at least scale.min) after a replica was lost.
  void ReplenishLocked(FunctionReplicas& fn, core::SteadyTime now);
  // No new calls; retired once its calls are done. A starting one is given up. `reason`
  // is what its kReplicaRemoved event says ("idle", "scaled down", "new generation", ...).
  void DrainLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica,
                   const std::string& reason = "drained");
  // Stops and removes the container (unless a start task still runs: it retires it at its
  // end), then drops the replica from fn.
  void RetireLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica);
  // Dead: never leased again, removed at once (calls in flight or not), replaced; a dead
  // starting replica is a failed start (back-off; queued calls fail when nothing is left
  // that could serve them).
  // `exit_code`: the container's, when the caller knows it (the events stream). Its
  // removal task reads the container's last log lines first and tells kReplicaDied (or
  // kStartFailed when no container ran), with DescribeFailure's reason, which also becomes
  // fn.last_failure.
  void MarkDeadLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica,
                      const std::string& reason, Deferred& deferred, int exit_code = -1);
  // Takes a ready replica found at Start into fn and the container registry.
  void AdoptLocked(FunctionReplicas& fn, std::shared_ptr<Replica> replica);

  // ---- pausing (fn.mu held) ----
  // Pauses a ready, idle, running replica through the engine on a task thread; it takes
  // no call from now until it is unpaused. A failed pause leaves it running (not tried
  // again for scale.pauseAfter). No-op for any other replica, or while stopping.
  void PauseLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica);
  // Posts the unpause of a paused ready replica (no call attached; a pausing one is
  // unpaused once its pause returns; no-op for any other). Once the engine answers, it takes
  // calls again, queued ones first (their leases say StartPath::kUnpaused); a failed
  // unpause makes it dead (MarkDeadLocked: replaced).
  void UnpauseLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica);
  // Unpauses paused replicas of fn for the queued calls that the free slots of running
  // replicas and of those already unpausing would not take (most recently used first).
  void UnpauseForQueueLocked(FunctionReplicas& fn);

  // The function and replica a container id belongs to (for the events stream).
  std::optional<std::pair<std::shared_ptr<FunctionReplicas>, std::shared_ptr<Replica>>>
  FindContainer(const std::string& id) const;

 private:
  std::shared_ptr<Lease::State> LeaseStateLocked(FunctionReplicas& fn, bool cold,
                                                 core::SteadyTime now);
  void StartFailedLocked(FunctionReplicas& fn, const std::string& reason, Deferred& deferred);
  void StartTask(const std::shared_ptr<FunctionReplicas>& fn,
                 const std::shared_ptr<Replica>& replica, const Deployment& d);
  // StartTask's first try for a deployment with a `stem` (stem_start.cc): takes a free cell
  // of its runtime and specialises it. True when the start ended there (EndStart called:
  // ready, or a failed start); false when no cell was free or the attempt failed before
  // /_/specialize was sent (the cell is removed, the replica's paths are its own again):
  // the normal start runs.
  bool StartFromStemCell(const std::shared_ptr<FunctionReplicas>& fn,
                         const std::shared_ptr<Replica>& replica, const Deployment& d);
  void EndStart(const std::shared_ptr<FunctionReplicas>& fn,
                const std::shared_ptr<Replica>& replica, std::optional<core::Error> error);
  void RetireTask(const std::shared_ptr<FunctionReplicas>& fn,
                  const std::shared_ptr<Replica>& replica);
  void PauseTask(const std::shared_ptr<FunctionReplicas>& fn,
                 const std::shared_ptr<Replica>& replica);
  void UnpauseTask(const std::shared_ptr<FunctionReplicas>& fn,
                   const std::shared_ptr<Replica>& replica);
  // RetireTask's part for a dead replica, before its container goes: reads its last log
  // lines and exit state, records the failure in fn and tells it.
  void ReportDeath(const std::shared_ptr<FunctionReplicas>& fn,
                   const std::shared_ptr<Replica>& replica, const std::string& id);
  void Register(const std::string& id, const std::shared_ptr<FunctionReplicas>& fn,
                const std::shared_ptr<Replica>& replica);
  void Unregister(const std::string& id, const std::shared_ptr<Replica>& replica);

  docker::DockerClient& docker_;
  const PoolOptions options_;
  const docker::Labels labels_;
  const std::string network_;
  core::Clock& clock_;
  HttpReadinessProbe http_probe_;
  ReadinessProbe& probe_;
  const std::function<void()> replan_;
  std::atomic<bool> stopping_{false};
  std::mutex secrets_mu_;

  mutable std::mutex containers_mu_;  // a leaf
  // container id -> (function, replica), for the events stream; guarded by containers_mu_
  std::map<std::string, std::pair<std::shared_ptr<FunctionReplicas>, std::shared_ptr<Replica>>>
      by_container_;

  TaskRunner runner_;
  // Hands slots freed by a dropped Lease to queued calls, off the dropping thread.
  TaskRunner dispatcher_;
  HttpSpecializer http_specializer_;
  Specializer& specializer_;
  // After runner_: its tasks hold it (shared), and it posts to runner_.
  std::shared_ptr<StemCells> stem_cells_;
};

}  // namespace gantry::pool
