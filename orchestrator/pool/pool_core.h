#pragma once

// Private to the pool: what Pool (pool.h) forwards to.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "docker/docker_client.h"
#include "pool/control_loop.h"
#include "pool/events_watcher.h"
#include "pool/function_table.h"
#include "pool/pool.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool::detail {

// The pool wired together: the function table (FunctionTable, one FunctionReplicas with
// its own lock per function), the replicas' lifecycle and leases (ReplicaLifecycle, shared
// with the leases), the control loop (ControlLoop) and the events stream (EventsWatcher).
// Implements Pool's management calls (Start's adoption is AdoptOrRemoveContainers) and
// Acquire. Contracts as in pool.h. Thread-safe.
class PoolCore {
 public:
  PoolCore(docker::DockerClient& docker, PoolOptions options);

  core::Status Start(const std::vector<Deployment>& current);
  void Stop();
  core::Status Apply(const Deployment& d);
  core::Status Remove(const std::string& ns, const std::string& name);
  core::Status Scale(const std::string& ns, const std::string& name, int replicas, ScaleHold hold);
  core::Result<int> UpdateSecret(const std::string& ns, const std::string& secret,
                                 const std::string& value);
  void Acquire(const std::string& ns, const std::string& name, AcquireCallback done);
  core::Result<FunctionStatus> Describe(const std::string& ns, const std::string& name) const;
  std::vector<FunctionStatus> List() const;
  void SetStemImage(const std::string& runtime, const std::string& image, int count) {
    lifecycle_->stem_cells().SetImage(runtime, image, count);
  }
  std::map<std::string, int> FreeStemCells() const { return lifecycle_->stem_cells().FreeCounts(); }
  // Also posts the stem cell creates that are due (their ticker runs on the real clock).
  void Reconcile() {
    control_.Reconcile();
    lifecycle_->stem_cells().Fill();
  }
  void Flush() { lifecycle_->Flush(); }

 private:
  // Waits on fn.changed until `done` holds or the pool's clock passes `deadline` (the
  // clock may be a ManualClock, which notifies nobody: it is read again at least every
  // kClockPoll). Returns done().
  template <typename Pred>
  bool WaitUntilLocked(FunctionReplicas& fn, std::unique_lock<std::mutex>& lock,
                       core::SteadyTime deadline, Pred done);
  // Acquire under fn.mu: the answer to give now (a lease on the warm path, or an error), or
  // nullopt when the call was queued (`done` moved into the queue; `first_waiter` says
  // whether the queue was empty).
  std::optional<core::Result<Lease>> AcquireLocked(FunctionReplicas& fn, AcquireCallback& done,
                                                   bool& first_waiter);
  core::Status ApplyNewGenerationLocked(FunctionReplicas& fn, std::unique_lock<std::mutex>& lock,
                                        const Deployment& d);

  const std::shared_ptr<ReplicaLifecycle> lifecycle_;
  FunctionTable functions_;
  ControlLoop control_;
  EventsWatcher events_;

  std::mutex start_mu_;
  bool started_ = false;  // guarded by start_mu_
};

}  // namespace gantry::pool::detail
