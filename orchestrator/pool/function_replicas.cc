#include "pool/function_replicas.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace gantry::pool {
namespace {

using core::SteadyTime;
using std::chrono::milliseconds;

constexpr milliseconds kWindowHistory{61'000};
constexpr milliseconds kWindowBucket{10};

}  // namespace

// The KPA's windows shrink with a short idle timeout: scale-to-zero after idle_timeout
// must not wait for a 60 s average to decay.
autoscaler::Policy PolicyFor(const Deployment& d) {
  autoscaler::Policy p;
  p.min_replicas = d.min_replicas;
  p.max_replicas = d.max_replicas;
  p.concurrency = d.concurrency;
  p.rps_per_replica = d.target_rps;
  p.idle_timeout = d.idle_timeout;
  p.stable_window = std::clamp(d.idle_timeout, milliseconds(1'000), milliseconds(60'000));
  p.panic_window = std::max(p.stable_window / 10, milliseconds(100));
  return p;
}

FunctionReplicas::FunctionReplicas(std::string function_key, const Deployment& d)
    : key(std::move(function_key)),
      deployment(d),
      window(kWindowHistory),
      arrivals(kWindowHistory),
      scaler(PolicyFor(d)),
      rng(std::random_device{}()) {}

void FunctionReplicas::SetDeploymentLocked(const Deployment& d) {
  deployment = d;
  scaler = autoscaler::Autoscaler(PolicyFor(d));
}

std::string FunctionReplicas::NewReplicaKeyLocked() {
  std::string k;
  do {
    k = fmt::format("r{:010x}", rng() & 0xffffffffffULL);
  } while (replicas.count(k) > 0);
  return k;
}

void FunctionReplicas::AddLocked(std::shared_ptr<Replica> replica) {
  in_flight_ += replica->in_flight;
  std::string k = replica->key;
  replicas[k] = std::move(replica);
}

void FunctionReplicas::EraseLocked(const std::shared_ptr<Replica>& replica) {
  auto it = replicas.find(replica->key);
  if (it == replicas.end() || it->second != replica) return;
  in_flight_ -= replica->in_flight;
  replicas.erase(it);
}

std::map<std::string, std::string> FunctionReplicas::CurrentSecretsLocked(
    std::map<std::string, std::string> secrets) const {
  for (auto& [name, value] : secrets) {
    auto now = deployment.secrets.find(name);
    if (now != deployment.secrets.end()) value = now->second;
  }
  return secrets;
}

bool FunctionReplicas::OwnsLocked(const Replica& replica) const {
  auto it = replicas.find(replica.key);
  return it != replicas.end() && it->second.get() == &replica;
}

std::shared_ptr<Replica> FunctionReplicas::TakeSlotLocked(SteadyTime now) {
  const std::shared_ptr<Replica>* best = nullptr;
  const int64_t current = deployment.generation;
  for (const auto& [k, r] : replicas) {
    if (r->state != ReplicaState::kReady || r->in_flight >= r->slots) continue;
    if (r->pause != PauseState::kRunning) continue;  // paused: UnpauseForQueueLocked's
    if (best == nullptr) {
      best = &r;
      continue;
    }
    const Replica& b = **best;
    bool r_current = r->generation == current, b_current = b.generation == current;
    if (r_current != b_current) {
      if (r_current) best = &r;
    } else if (r->in_flight != b.in_flight) {
      if (r->in_flight > b.in_flight) best = &r;
    } else if (r->last_used > b.last_used) {
      best = &r;
    }
  }
  if (best == nullptr) return nullptr;
  ++(*best)->in_flight;
  ++in_flight_;
  UpdateWindowLocked(now);
  return *best;
}

void FunctionReplicas::GiveSlotBackLocked(Replica& replica, SteadyTime now) {
  if (replica.in_flight > 0) {
    --replica.in_flight;
    if (OwnsLocked(replica)) --in_flight_;
  }
  replica.last_used = now;
  if (in_flight_ == 0 && queue.empty()) idle_since = now;
}

void FunctionReplicas::CallArrivedLocked(SteadyTime now) {
  if (deployment.target_rps > 0) arrivals.Add(now);  // only an rps policy reads them
  if (!idle_since) return;
  idle_times.Add(std::chrono::duration_cast<autoscaler::Micros>(now - *idle_since));
  idle_since.reset();
}

// Change points are kept per 10 ms bucket (the bucket's last value counts for it): at
// thousands of calls a second the window stays a few thousand points, which the control
// pass averages under the function's lock. Only calls in flight count: replicas for
// waiting calls are the start planner's (ReplicasToStartForQueue); a burst queued behind a
// cold start would otherwise panic the autoscaler into a replica per queued call.
void FunctionReplicas::UpdateWindowLocked(SteadyTime now) {
  SteadyTime bucket = now - now.time_since_epoch() % kWindowBucket;
  window.Set(bucket, in_flight_);
}

int FunctionReplicas::ActiveLocked() const {
  int n = 0;
  for (const auto& [k, r] : replicas) {
    if (r->generation == deployment.generation && !r->abandoned &&
        (r->state == ReplicaState::kStarting || r->state == ReplicaState::kReady)) {
      ++n;
    }
  }
  return n;
}

bool FunctionReplicas::HasLiveOrStartingReplicaLocked() const {
  for (const auto& [k, r] : replicas) {
    if (r->abandoned) continue;
    if (r->state == ReplicaState::kReady) return true;
    if (r->state == ReplicaState::kStarting && r->generation == deployment.generation) {
      return true;
    }
  }
  return false;
}

void FunctionReplicas::FailWaitersLocked(const core::Error& error, Deferred& deferred) {
  while (!queue.empty()) {
    AcquireCallback done = std::move(queue.front().done);
    queue.pop_front();
    deferred.push_back([done = std::move(done), error] { done(core::Result<Lease>(error)); });
  }
}

void FunctionReplicas::ExpireWaitersLocked(SteadyTime now, Deferred& deferred) {
  for (auto it = queue.begin(); it != queue.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    core::Error error = core::Error::Timeout(
        fmt::format("no free replica of {} within {} ms ({} calls queued, {} starting)", key,
                    deployment.queue_timeout.count(), queue.size(), ActiveLocked()));
    deferred.push_back([done = std::move(it->done), error] { done(core::Result<Lease>(error)); });
    it = queue.erase(it);
  }
}

int ReplicasToStartForQueue(FunctionReplicas& fn, SteadyTime now) {
  if (fn.removed || fn.queue.empty() || now < fn.retry_after) return 0;
  autoscaler::StartDemand demand{.waiting = static_cast<int>(fn.queue.size()),
                                 .concurrency = std::max(fn.deployment.concurrency, 1),
                                 .room = fn.deployment.max_replicas - fn.ActiveLocked()};
  std::vector<std::string> starting;
  int busy = 0;
  for (const auto& [k, r] : fn.replicas) {
    if (r->abandoned) continue;
    if (r->state == ReplicaState::kStarting && r->generation == fn.deployment.generation) {
      starting.push_back(k);
    }
    if (r->state == ReplicaState::kReady) {
      demand.free_slots += r->slots - r->in_flight;
      busy += r->in_flight;
    }
  }
  return fn.demand.Plan(std::move(demand), starting, busy, now).start;
}

}  // namespace gantry::pool
