#include "pool/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stop_token>
#include <thread>

#include "autoscaler/autoscaler.h"
#include "autoscaler/demand_estimate.h"
#include "core/identity.h"
#include "core/log.h"
#include "pool/container_spec.h"
#include "pool/readiness.h"
#include "pool/replica.h"
#include "pool/replica_files.h"
#include "pool/replica_network.h"
#include "pool/task_runner.h"

namespace gantry::pool {

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting: return "starting";
    case ReplicaState::kReady: return "ready";
    case ReplicaState::kDraining: return "draining";
    case ReplicaState::kDead: return "dead";
  }
  return "?";
}

struct Lease::State {
  std::shared_ptr<detail::PoolCore> core;
  std::string function;  // "ns/name"
  std::shared_ptr<Replica> replica;
  Endpoint endpoint;
  std::string replica_id;
  bool cold = false;
  std::chrono::milliseconds timeout{30'000};
  core::SteadyTime leased_at{};  // the call's start: Release measures its duration
  ~State();
};

namespace detail {
namespace {

namespace fs = std::filesystem;
using core::SteadyTime;
using std::chrono::milliseconds;
using LogLevel = core::LogLevel;

// Work decided under the mutex and done after it is released: callers' callbacks may call
// back into the pool (or drop a Lease, which releases a slot).
using Deferred = std::vector<std::function<void()>>;

void RunDeferred(Deferred& deferred) {
  for (auto& f : deferred) f();
  deferred.clear();
}

constexpr milliseconds kWindowHistory{61'000};
constexpr milliseconds kWindowBucket{10};
constexpr milliseconds kMaxStartBackoff{30'000};
constexpr milliseconds kAdoptProbeLimit{2'000};
constexpr int kSweepEveryPasses = 10;
constexpr int kHealthEveryPasses = 5;
constexpr milliseconds kHealthProbeLimit{2'000};
constexpr int kHealthStrikes = 2;  // failed checks in a row before a replica is dead
constexpr milliseconds kClockPoll{50};  // how often a blocked Apply/Remove reads the clock again

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The KPA's windows shrink with a short idle timeout: scale-to-zero after idle_timeout
// must not wait for a 60 s average to decay.
autoscaler::Policy PolicyFor(const Deployment& d) {
  autoscaler::Policy p;
  p.min_replicas = d.min_replicas;
  p.max_replicas = d.max_replicas;
  p.concurrency = d.concurrency;
  p.idle_timeout = d.idle_timeout;
  p.stable_window = std::clamp(d.idle_timeout, milliseconds(1'000), milliseconds(60'000));
  p.panic_window = std::max(p.stable_window / 10, milliseconds(100));
  return p;
}

// What every container of this pool carries besides a replica's own labels.
docker::Labels IdentityLabels(const PoolOptions& options) {
  docker::Labels labels = options.extra_labels;
  if (!options.instance_id.empty()) labels[core::kInstanceLabel] = options.instance_id;
  return labels;
}

bool IsReplicaKey(const std::string& s) {
  if (s.size() != 11 || s[0] != 'r') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

struct Waiter {
  AcquireCallback done;
  SteadyTime deadline;
};

struct Function {
  explicit Function(const Deployment& d) : deployment(d), window(kWindowHistory), scaler(PolicyFor(d)) {}

  Deployment deployment;  // the current generation
  std::map<std::string, std::shared_ptr<Replica>> replicas;  // by key, every generation
  std::deque<Waiter> queue;
  autoscaler::ConcurrencyWindow window;
  autoscaler::Autoscaler scaler;
  autoscaler::DemandEstimate demand;  // what starts and calls take, for EnsureCapacityLocked
  std::optional<SteadyTime> last_call;
  std::chrono::system_clock::time_point last_call_wall{};
  std::string last_error;
  int desired = 0;
  std::optional<int> manual;  // Scale() holds this count until manual_until
  SteadyTime manual_until{};
  int start_failures = 0;      // in a row; reset by a replica getting ready
  SteadyTime retry_after{};    // no new start before this after failures
  bool removed = false;
};

}  // namespace

// Everything the pool is, shared with the leases it hands out (a Lease may outlive the
// Pool). Every member below mu_ is guarded by it; no engine, file or socket call is made
// while holding it.
class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  PoolCore(docker::DockerClient& docker, PoolOptions options)
      : docker_(docker),
        options_(std::move(options)),
        labels_(IdentityLabels(options_)),
        network_(ReplicaNetworkName(options_)),
        clock_(options_.clock ? *options_.clock : core::SystemClock::Instance()),
        probe_(options_.probe ? *options_.probe : http_probe_),
        runner_(options_.workers),
        dispatcher_(1),
        rng_(std::random_device{}()) {}

  core::Status Start(const std::vector<Deployment>& current);
  void Stop();
  core::Status Apply(const Deployment& d);
  core::Status Remove(const std::string& ns, const std::string& name);
  core::Status Scale(const std::string& ns, const std::string& name, int replicas);
  core::Result<int> UpdateSecret(const std::string& ns, const std::string& secret,
                                 const std::string& value);
  void Acquire(const std::string& ns, const std::string& name, AcquireCallback done);
  core::Result<FunctionStatus> Describe(const std::string& ns, const std::string& name) const;
  std::vector<FunctionStatus> List() const;
  void Reconcile();
  void Flush() {
    runner_.Flush();
    dispatcher_.Flush();
  }

  void Release(const std::string& function, const std::shared_ptr<Replica>& replica,
               SteadyTime leased_at);
  void Fail(const std::string& function, const std::shared_ptr<Replica>& replica, const std::string& reason);

 private:
  Function* FindLocked(const std::string& key) const {
    auto it = functions_.find(key);
    return it == functions_.end() ? nullptr : it->second.get();
  }
  docker::LabelSelector Selector() const;
  std::string ExpectedNetworkMode(const Deployment& d) const;
  // Waits on changed_ until `done` holds or the pool's clock passes `deadline` (the clock
  // may be a ManualClock, which notifies nobody: it is read again at least every
  // kClockPoll). Returns done().
  template <typename Pred>
  bool WaitUntilLocked(std::unique_lock<std::mutex>& lock, SteadyTime deadline, Pred done) {
    while (!done()) {
      if (clock_.Now() >= deadline) return false;
      changed_.wait_for(lock, kClockPoll);
    }
    return true;
  }
  std::shared_ptr<Lease::State> LeaseLocked(Function& fn, const std::string& key, bool cold, SteadyTime now);
  void DispatchLocked(Function& fn, const std::string& key, bool cold, SteadyTime now, Deferred& deferred);
  void UpdateWindowLocked(Function& fn, SteadyTime now);
  int ActiveLocked(const Function& fn) const;  // current generation, starting or ready
  bool HopeLocked(const Function& fn) const;   // a current replica is ready or starting
  std::shared_ptr<Replica> StartReplicaLocked(Function& fn, const std::string& key);
  void EnsureCapacityLocked(Function& fn, const std::string& key, SteadyTime now);
  void ReplenishLocked(Function& fn, const std::string& key, SteadyTime now);
  void DrainLocked(const std::string& key, const std::shared_ptr<Replica>& replica);
  void RetireLocked(const std::string& key, const std::shared_ptr<Replica>& replica);
  void MarkDeadLocked(const std::string& key, const std::shared_ptr<Replica>& replica, const std::string& reason,
                      Deferred& deferred);
  void StartFailedLocked(Function& fn, const std::string& key, const std::string& reason, Deferred& deferred);
  void FailWaitersLocked(Function& fn, const core::Error& error, Deferred& deferred);

  void StartTask(const std::string& key, const std::shared_ptr<Replica>& replica, const Deployment& d);
  void EndStart(const std::string& key, const std::shared_ptr<Replica>& replica,
                std::optional<core::Error> error);
  void RetireTask(const std::string& key, const std::shared_ptr<Replica>& replica);
  void OnEvent(const docker::Event& event);
  void Sweep();
  void HealthCheck();
  void ControlLoop();
  void EventsLoop(std::stop_token stop);
  void WakeLoop();

  docker::DockerClient& docker_;
  const PoolOptions options_;
  const docker::Labels labels_;  // extra_labels and the instance label: on every container, in every selector
  const std::string network_;    // what replicas with NetworkAccess::kDefault sit on
  core::Clock& clock_;
  HttpReadinessProbe http_probe_;
  ReadinessProbe& probe_;
  TaskRunner runner_;
  // Hands slots freed by a dropped Lease to queued calls: never on the dropping thread,
  // which may hold its own locks (the gateway's) that the next call's callback takes too.
  TaskRunner dispatcher_;

  // Serialises writers of replicas' secret files (a start writing them all, an update
  // replacing one): whoever holds it reads the values from the deployments and writes
  // them, so a start never writes a value an update has already replaced. Taken before
  // mu_, never while holding it; file writes happen under it (never under mu_).
  std::mutex secrets_mu_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a replica started, failed or went away
  std::map<std::string, std::unique_ptr<Function>> functions_;  // by "ns/name"
  // container id -> (function key, replica), for the events stream
  std::map<std::string, std::pair<std::string, std::shared_ptr<Replica>>> by_container_;
  std::mt19937_64 rng_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> health_running_{false};

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool loop_stop_ = false;  // guarded by loop_mu_
  bool loop_wake_ = false;  // guarded by loop_mu_
  std::thread control_thread_;
  std::jthread events_thread_;
};

// A container on another network than its deployment asks for (made by an older gantryd,
// or the network was renamed) is replaced, not adopted.
std::string PoolCore::ExpectedNetworkMode(const Deployment& d) const {
  return d.network == NetworkAccess::kNone && d.http_port == 0 ? "none" : network_;
}

docker::LabelSelector PoolCore::Selector() const {
  docker::LabelSelector selector{kFunctionLabel};
  for (const auto& [k, v] : labels_) selector.push_back(k + "=" + v);
  return selector;
}

// ---- the warm path: memory only ----

// Change points are kept per 10 ms bucket (the bucket's last value counts for it): at
// thousands of calls a second the window stays a few thousand points, which the control
// pass averages under the mutex. Only calls in flight count: replicas for waiting calls
// are the start planner's (EnsureCapacityLocked); a burst queued behind a cold start
// would otherwise panic the autoscaler into a replica per queued call.
void PoolCore::UpdateWindowLocked(Function& fn, SteadyTime now) {
  int in_flight = 0;
  for (const auto& [k, r] : fn.replicas) in_flight += r->in_flight;
  SteadyTime bucket = now - now.time_since_epoch() % kWindowBucket;
  fn.window.Set(bucket, in_flight);
}

std::shared_ptr<Lease::State> PoolCore::LeaseLocked(Function& fn, const std::string& key, bool cold,
                                                    SteadyTime now) {
  Replica* best = nullptr;
  const int64_t current = fn.deployment.generation;
  for (const auto& [k, r] : fn.replicas) {
    if (r->state != ReplicaState::kReady || r->in_flight >= r->slots) continue;
    if (best == nullptr) {
      best = r.get();
      continue;
    }
    // Prefer the current generation, then the busiest replica (packing calls lets the
    // others go idle and be scaled down), then the most recently used.
    bool r_current = r->generation == current, b_current = best->generation == current;
    if (r_current != b_current) {
      if (r_current) best = r.get();
    } else if (r->in_flight != best->in_flight) {
      if (r->in_flight > best->in_flight) best = r.get();
    } else if (r->last_used > best->last_used) {
      best = r.get();
    }
  }
  if (best == nullptr) return nullptr;
  ++best->in_flight;
  UpdateWindowLocked(fn, now);
  auto state = std::make_shared<Lease::State>();
  state->core = shared_from_this();
  state->function = key;
  state->replica = fn.replicas.at(best->key);
  state->endpoint = best->endpoint;
  state->replica_id = best->id;
  state->cold = cold;
  state->timeout = fn.deployment.timeout;
  state->leased_at = now;
  fn.demand.CallBegan(now);
  return state;
}

void PoolCore::DispatchLocked(Function& fn, const std::string& key, bool cold, SteadyTime now,
                              Deferred& deferred) {
  while (!fn.queue.empty()) {
    auto state = LeaseLocked(fn, key, cold, now);
    if (!state) break;
    AcquireCallback done = std::move(fn.queue.front().done);
    fn.queue.pop_front();
    deferred.push_back([done = std::move(done), state = std::move(state)]() mutable {
      done(core::Result<Lease>(Lease(std::move(state))));
    });
  }
  UpdateWindowLocked(fn, now);
}

void PoolCore::Acquire(const std::string& ns, const std::string& name, AcquireCallback done) {
  const std::string key = Key(ns, name);
  std::shared_ptr<Lease::State> state;
  std::optional<core::Error> error;
  bool first_waiter = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Function* fn = FindLocked(key);
    if (fn == nullptr || fn->removed) {
      error = core::Error::NotFound(fmt::format("function {} not found", key));
    } else if (stopping_) {
      error = core::Error::Unavailable("the pool is stopping");
    } else {
      SteadyTime now = clock_.Now();
      fn->last_call = now;
      fn->last_call_wall = std::chrono::system_clock::now();
      state = LeaseLocked(*fn, key, /*cold=*/false, now);
      if (!state) {
        if (static_cast<int>(fn->queue.size()) >= fn->deployment.max_queue) {
          error = core::Error::Unavailable(fmt::format("queue full: {} calls already wait for a replica of {}",
                                                       fn->queue.size(), key));
        } else if (!HopeLocked(*fn) && now < fn->retry_after) {
          error = core::Error::Internal(fmt::format("{}: {}", key, fn->last_error));
        } else {
          first_waiter = fn->queue.empty();
          fn->queue.push_back({std::move(done), now + fn->deployment.queue_timeout});
          UpdateWindowLocked(*fn, now);
          EnsureCapacityLocked(*fn, key, now);
        }
      }
    }
  }
  if (state) {
    done(core::Result<Lease>(Lease(std::move(state))));
  } else if (error) {
    done(core::Result<Lease>(*error));
  } else if (first_waiter) {
    WakeLoop();  // the control loop now watches this call's queue deadline
  }
}

void PoolCore::Release(const std::string& function, const std::shared_ptr<Replica>& replica,
                       SteadyTime leased_at) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SteadyTime now = clock_.Now();
    if (replica->in_flight > 0) --replica->in_flight;
    replica->last_used = now;
    Function* fn = FindLocked(function);
    bool ours = fn != nullptr && fn->replicas.count(replica->key) > 0;
    if (replica->state == ReplicaState::kDraining && replica->in_flight == 0) {
      RetireLocked(function, replica);
      changed_.notify_all();
    } else if (ours && replica->state == ReplicaState::kReady) {
      DispatchLocked(*fn, function, /*cold=*/false, now, deferred);
    }
    if (fn != nullptr) fn->demand.CallEnded(leased_at, now);  // also from a replica gone dead
    if (ours) {
      UpdateWindowLocked(*fn, now);
      EnsureCapacityLocked(*fn, function, now);  // what the call took may call for a start
    }
  }
  if (!deferred.empty()) {
    auto handoff = std::make_shared<Deferred>(std::move(deferred));
    if (!dispatcher_.Post([handoff] { RunDeferred(*handoff); })) RunDeferred(*handoff);
  }
}

void PoolCore::Fail(const std::string& function, const std::shared_ptr<Replica>& replica,
                    const std::string& reason) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MarkDeadLocked(function, replica, "call failed: " + reason, deferred);
  }
  RunDeferred(deferred);
}

// ---- replica lifecycle ----

int PoolCore::ActiveLocked(const Function& fn) const {
  int n = 0;
  for (const auto& [k, r] : fn.replicas) {
    if (r->generation == fn.deployment.generation && !r->abandoned &&
        (r->state == ReplicaState::kStarting || r->state == ReplicaState::kReady)) {
      ++n;
    }
  }
  return n;
}

bool PoolCore::HopeLocked(const Function& fn) const {
  for (const auto& [k, r] : fn.replicas) {
    if (r->abandoned) continue;
    if (r->state == ReplicaState::kReady) return true;
    if (r->state == ReplicaState::kStarting && r->generation == fn.deployment.generation) return true;
  }
  return false;
}

std::shared_ptr<Replica> PoolCore::StartReplicaLocked(Function& fn, const std::string& key) {
  if (stopping_) return nullptr;
  auto replica = std::make_shared<Replica>();
  do {
    replica->key = fmt::format("r{:010x}", rng_() & 0xffffffffffULL);
  } while (fn.replicas.count(replica->key) > 0);
  replica->generation = fn.deployment.generation;
  replica->slots = std::max(fn.deployment.concurrency, 1);
  replica->paths = PathsFor(options_.run_dir, replica->key);
  replica->task_active = true;
  fn.replicas[replica->key] = replica;
  Deployment d = fn.deployment;
  if (!runner_.Post([this, key, replica, d] { StartTask(key, replica, d); })) {
    fn.replicas.erase(replica->key);
    return nullptr;
  }
  fn.demand.StartBegan(replica->key, clock_.Now());
  core::Log(LogLevel::kInfo, "pool: {} starting replica {} (generation {})", key, replica->key, d.generation);
  return replica;
}

// Waiting calls get the replicas the start planner asks for: only for the calls the
// replicas there are would not take by the time a start is ready (autoscaler/start_planner.h),
// at most one per `concurrency` calls beyond the slots ready or coming.
void PoolCore::EnsureCapacityLocked(Function& fn, const std::string& key, SteadyTime now) {
  if (fn.removed || stopping_ || fn.queue.empty() || now < fn.retry_after) return;
  autoscaler::StartDemand demand{.waiting = static_cast<int>(fn.queue.size()),
                                 .concurrency = std::max(fn.deployment.concurrency, 1),
                                 .room = fn.deployment.max_replicas - ActiveLocked(fn)};
  std::vector<std::string> starting;
  int busy = 0;
  for (const auto& [k, r] : fn.replicas) {
    if (r->abandoned) continue;
    if (r->state == ReplicaState::kStarting && r->generation == fn.deployment.generation)
      starting.push_back(k);
    if (r->state == ReplicaState::kReady) {
      demand.free_slots += r->slots - r->in_flight;
      busy += r->in_flight;
    }
  }
  std::optional<SteadyTime> replan_before = fn.demand.replan_at();
  autoscaler::StartPlan plan = fn.demand.Plan(std::move(demand), starting, busy, now);
  for (int i = 0; i < plan.start; ++i) StartReplicaLocked(fn, key);
  // The control loop sleeps up to control_interval: a new "plan again at" must reach it
  // (loop_mu_ is taken under mu_ here; the loop never takes mu_ while holding loop_mu_).
  if (fn.demand.replan_at() && fn.demand.replan_at() != replan_before) WakeLoop();
}

// Back to the last decided count (at least scale.min) after a replica was lost.
void PoolCore::ReplenishLocked(Function& fn, const std::string& key, SteadyTime now) {
  if (fn.removed || stopping_) return;
  EnsureCapacityLocked(fn, key, now);
  if (now < fn.retry_after) return;
  int target = std::min(std::max(fn.deployment.min_replicas, fn.desired), fn.deployment.max_replicas);
  for (int n = ActiveLocked(fn); n < target; ++n) StartReplicaLocked(fn, key);
}

void PoolCore::RetireLocked(const std::string& key, const std::shared_ptr<Replica>& replica) {
  replica->abandoned = true;
  if (replica->retiring || replica->task_active) return;  // a running start retires it at its end
  replica->retiring = true;
  runner_.Post([this, key, replica] { RetireTask(key, replica); });
}

void PoolCore::DrainLocked(const std::string& key, const std::shared_ptr<Replica>& replica) {
  if (replica->state == ReplicaState::kDead || replica->state == ReplicaState::kDraining) return;
  if (replica->state == ReplicaState::kStarting) replica->abandoned = true;
  replica->state = ReplicaState::kDraining;
  core::Log(LogLevel::kInfo, "pool: {} draining replica {} ({} in flight)", key, replica->key, replica->in_flight);
  if (replica->in_flight == 0) RetireLocked(key, replica);
}

void PoolCore::FailWaitersLocked(Function& fn, const core::Error& error, Deferred& deferred) {
  while (!fn.queue.empty()) {
    AcquireCallback done = std::move(fn.queue.front().done);
    fn.queue.pop_front();
    deferred.push_back([done = std::move(done), error] { done(core::Result<Lease>(error)); });
  }
}

void PoolCore::StartFailedLocked(Function& fn, const std::string& key, const std::string& reason,
                                 Deferred& deferred) {
  SteadyTime now = clock_.Now();
  ++fn.start_failures;
  milliseconds backoff = std::min(milliseconds(1'000 * (int64_t{1} << std::min(fn.start_failures - 1, 5))), kMaxStartBackoff);
  fn.retry_after = now + backoff;
  fn.last_error = "replica failed to start: " + reason;
  core::Log(LogLevel::kWarn, "pool: {}: {} (next start in {} ms at the earliest)", key, fn.last_error,
            backoff.count());
  // Calls no replica will serve fail now, with the reason, rather than at their timeout.
  if (!HopeLocked(fn)) FailWaitersLocked(fn, core::Error::Internal(fmt::format("{}: {}", key, fn.last_error)), deferred);
}

void PoolCore::MarkDeadLocked(const std::string& key, const std::shared_ptr<Replica>& replica,
                              const std::string& reason, Deferred& deferred) {
  if (replica->state == ReplicaState::kDead) return;
  ReplicaState was = replica->state;
  replica->state = ReplicaState::kDead;
  replica->last_error = reason;
  core::Log(LogLevel::kWarn, "pool: {} replica {} ({}) is dead: {}", key, replica->key, replica->id, reason);
  // Removed at once, calls in flight or not: they cannot succeed on it any more.
  RetireLocked(key, replica);
  changed_.notify_all();
  Function* fn = FindLocked(key);
  if (fn == nullptr || fn->replicas.count(replica->key) == 0) return;
  if (was == ReplicaState::kStarting) {
    StartFailedLocked(*fn, key, reason, deferred);
  } else {
    fn->last_error = fmt::format("replica {} died: {}", replica->key, reason);
  }
  if (was != ReplicaState::kDraining) ReplenishLocked(*fn, key, clock_.Now());
}

void PoolCore::StartTask(const std::string& key, const std::shared_ptr<Replica>& replica, const Deployment& d) {
  auto give_up = [&] { return replica->abandoned.load() || stopping_.load(); };
  {
    std::lock_guard<std::mutex> secrets_lock(secrets_mu_);
    // The values as they are now: UpdateSecret may have changed one since `d` was copied.
    std::map<std::string, std::string> secrets = d.secrets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (Function* fn = FindLocked(key)) {
        for (auto& [name, value] : secrets) {
          auto now = fn->deployment.secrets.find(name);
          if (now != fn->deployment.secrets.end()) value = now->second;
        }
      }
    }
    if (auto s = CreateReplicaFiles(replica->paths, secrets, options_.secrets_uid,
                                    options_.socket_dir_bytes);
        !s) {
      return EndStart(key, replica, s.error());
    }
  }
  if (give_up()) return EndStart(key, replica, std::nullopt);
  auto spec = ReplicaContainerSpec(d, replica->key, replica->paths, labels_, options_.stop_timeout_seconds,
                                   {.max_size = options_.log_max_size, .max_files = options_.log_max_files},
                                   network_);
  auto id = docker_.CreateContainer(spec);
  if (!id && id.error().code() == core::ErrorCode::kNotFound && network_ != kDefaultBridge &&
      spec.network_mode == network_) {
    // The network went away (`docker network prune` while nothing used it): make it again.
    if (auto s = EnsureReplicaNetwork(docker_, network_, labels_); !s) return EndStart(key, replica, s.error());
    id = docker_.CreateContainer(spec);
  }
  if (!id) return EndStart(key, replica, id.error());
  {
    std::lock_guard<std::mutex> lock(mu_);
    replica->id = *id;
    by_container_[*id] = {key, replica};
  }
  if (give_up()) return EndStart(key, replica, std::nullopt);
  if (auto s = docker_.StartContainer(*id); !s) return EndStart(key, replica, s.error());
  Endpoint endpoint;
  if (d.http_port > 0) {
    auto info = docker_.InspectContainer(*id);
    if (!info) return EndStart(key, replica, info.error());
    auto port = info->host_ports.find(std::to_string(d.http_port) + "/tcp");
    if (port == info->host_ports.end()) {
      return EndStart(key, replica, core::Error::Internal(fmt::format("port {} was not published", d.http_port)));
    }
    endpoint.port = port->second;
  } else {
    endpoint.unix_socket = replica->paths.SocketPath();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    replica->endpoint = endpoint;
  }
  auto ready = probe_.WaitReady(endpoint, options_.ready_timeout, give_up);
  if (!ready && !give_up()) {
    // The container's last words usually say why (bad command, missing handler).
    std::string tail;
    docker::LogsOptions logs{.tail = 5};
    (void)docker_.Logs(*id, logs, [&](docker::Stream, std::string_view line) {
      tail += fmt::format("{}{}", tail.empty() ? "" : " | ", line);
      return tail.size() < 2000;
    });
    core::Error error = ready.error();
    if (!tail.empty()) error = core::Error(error.code(), error.message() + "; container output: " + tail);
    return EndStart(key, replica, error);
  }
  EndStart(key, replica, std::nullopt);
}

void PoolCore::EndStart(const std::string& key, const std::shared_ptr<Replica>& replica,
                        std::optional<core::Error> error) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    replica->task_active = false;
    if (stopping_) {
      // Left as it is: a restarted gantryd adopts it when healthy, or removes it.
      changed_.notify_all();
      return;
    }
    SteadyTime now = clock_.Now();
    Function* fn = FindLocked(key);
    bool ours = fn != nullptr && fn->replicas.count(replica->key) > 0;
    if (fn != nullptr)
      fn->demand.StartEnded(replica->key, now, ours && !error && !replica->abandoned);
    if (replica->abandoned || !ours) {
      RetireLocked(key, replica);
    } else if (error) {
      MarkDeadLocked(key, replica, error->message(), deferred);
    } else {
      replica->state = ReplicaState::kReady;
      replica->last_used = now;
      replica->ready_at = now;
      replica->started = std::chrono::system_clock::now();
      fn->start_failures = 0;
      fn->retry_after = {};
      core::Log(LogLevel::kInfo, "pool: {} replica {} ready ({})", key, replica->key, replica->id);
      if (replica->generation < fn->deployment.generation) {
        DrainLocked(key, replica);
      } else {
        // A ready replica of the current generation ends the previous ones' service.
        for (const auto& [k, r] : fn->replicas) {
          if (r->generation < fn->deployment.generation) DrainLocked(key, r);
        }
        DispatchLocked(*fn, key, /*cold=*/true, now, deferred);
        EnsureCapacityLocked(*fn, key, now);
      }
    }
    changed_.notify_all();
  }
  RunDeferred(deferred);
}

void PoolCore::RetireTask(const std::string& key, const std::shared_ptr<Replica>& replica) {
  std::string id;
  bool dead = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = replica->id;
    dead = replica->state == ReplicaState::kDead;
  }
  if (!id.empty()) {
    if (!dead) {  // a graceful stop lets the shim drain; a dead one is only removed
      auto stopped = docker_.StopContainer(id, options_.stop_timeout_seconds);
      if (!stopped && stopped.error().code() != core::ErrorCode::kNotFound) {
        core::Log(LogLevel::kWarn, "pool: stop {}: {}", id, stopped.error().ToString());
      }
    }
    auto removed = docker_.RemoveContainer(id, {.force = true});
    if (!removed && removed.error().code() != core::ErrorCode::kNotFound) {
      core::Log(LogLevel::kWarn, "pool: remove {}: {}", id, removed.error().ToString());
    }
  }
  RemoveReplicaFiles(replica->paths);
  std::lock_guard<std::mutex> lock(mu_);
  if (!id.empty()) {
    auto it = by_container_.find(id);
    if (it != by_container_.end() && it->second.second == replica) by_container_.erase(it);
  }
  if (Function* fn = FindLocked(key)) {
    auto it = fn->replicas.find(replica->key);
    if (it != fn->replicas.end() && it->second == replica) fn->replicas.erase(it);
  }
  changed_.notify_all();
}

// ---- control ----

void PoolCore::Reconcile() {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    SteadyTime now = clock_.Now();
    for (auto& [key, fn_ptr] : functions_) {
      Function& fn = *fn_ptr;
      if (fn.removed) continue;
      // Queued calls past their deadline: 503 with a reason.
      for (auto it = fn.queue.begin(); it != fn.queue.end();) {
        if (it->deadline > now) {
          ++it;
          continue;
        }
        core::Error error = core::Error::Timeout(
            fmt::format("no free replica of {} within {} ms ({} calls queued, {} starting)", key,
                        fn.deployment.queue_timeout.count(), fn.queue.size(),
                        ActiveLocked(fn)));
        deferred.push_back([done = std::move(it->done), error] { done(core::Result<Lease>(error)); });
        it = fn.queue.erase(it);
      }
      UpdateWindowLocked(fn, now);

      int active = ActiveLocked(fn);
      autoscaler::Decision decision = fn.scaler.Decide(fn.window, active, now, fn.last_call);
      int desired = decision.desired;
      if (fn.manual && now < fn.manual_until) {
        desired = *fn.manual;
      } else {
        fn.manual.reset();
      }
      fn.desired = desired;
      if (desired > active && now >= fn.retry_after) {
        core::Log(LogLevel::kDebug, "pool: {} scale {} -> {}: {}", key, active, desired, decision.reason);
        for (int n = active; n < std::min(desired, fn.deployment.max_replicas); ++n) StartReplicaLocked(fn, key);
      } else if (desired < active) {
        // Keep-alive: only replicas idle for idle_timeout go, longest idle first.
        std::vector<std::shared_ptr<Replica>> idle;
        for (const auto& [k, r] : fn.replicas) {
          if (r->generation == fn.deployment.generation && r->state == ReplicaState::kReady && r->in_flight == 0 &&
              now - r->last_used >= fn.deployment.idle_timeout) {
            idle.push_back(r);
          }
        }
        std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
        for (size_t i = 0; i < idle.size() && static_cast<int>(i) < active - desired; ++i) {
          core::Log(LogLevel::kInfo, "pool: {} scale {} -> {}: {}", key, active, desired, decision.reason);
          DrainLocked(key, idle[i]);
        }
      }
      // Older generations serve only until a current replica is ready, or until idle.
      bool current_ready = false;
      for (const auto& [k, r] : fn.replicas) {
        current_ready |= r->generation == fn.deployment.generation && r->state == ReplicaState::kReady;
      }
      for (const auto& [k, r] : fn.replicas) {
        if (r->generation >= fn.deployment.generation) continue;
        if (current_ready || (r->in_flight == 0 && now - r->last_used >= fn.deployment.idle_timeout)) {
          DrainLocked(key, r);
        }
      }
      EnsureCapacityLocked(fn, key, now);
    }
  }
  RunDeferred(deferred);
}

// The events stream can miss a death while it reconnects; the engine's list cannot.
void PoolCore::Sweep() {
  SteadyTime before = clock_.Now();
  auto running = docker_.ListContainers(Selector(), /*all=*/false);
  if (!running) return;
  std::set<std::string> ids;
  // Paused ones are listed too: the health check, not this, judges a container that runs.
  for (const auto& c : *running) ids.insert(c.id);
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, std::shared_ptr<Replica>>> lost;
    for (const auto& [key, fn] : functions_) {
      for (const auto& [k, r] : fn->replicas) {
        if (r->state == ReplicaState::kReady && r->ready_at < before && !r->id.empty() && ids.count(r->id) == 0) {
          lost.emplace_back(key, r);
        }
      }
    }
    for (const auto& [key, r] : lost) MarkDeadLocked(key, r, "container is not running", deferred);
  }
  RunDeferred(deferred);
}

// A shim that stops answering /_/ready while its container runs (wedged, out of file
// descriptors) is dead too. Images serving HTTP themselves are left to the events stream
// and Lease::Fail: probing "/" would call the function.
void PoolCore::HealthCheck() {
  std::vector<std::pair<std::string, std::shared_ptr<Replica>>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, fn] : functions_) {
      for (const auto& [k, r] : fn->replicas) {
        if (r->state == ReplicaState::kReady && !r->endpoint.unix_socket.empty()) ready.emplace_back(key, r);
      }
    }
  }
  for (const auto& [key, replica] : ready) {
    if (stopping_) break;
    Endpoint endpoint;
    {
      std::lock_guard<std::mutex> lock(mu_);
      endpoint = replica->endpoint;
    }
    auto healthy = probe_.WaitReady(endpoint, kHealthProbeLimit, [&] { return replica->abandoned.load() || stopping_.load(); });
    Deferred deferred;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (healthy) {
        replica->health_strikes = 0;
      } else if (replica->state == ReplicaState::kReady && !replica->abandoned &&
                 ++replica->health_strikes >= kHealthStrikes) {
        MarkDeadLocked(key, replica, "health check failed: " + healthy.error().message(), deferred);
      }
    }
    RunDeferred(deferred);
  }
  health_running_ = false;
}

void PoolCore::OnEvent(const docker::Event& event) {
  if (event.type != "container" || (event.action != "die" && event.action != "oom")) return;
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_container_.find(event.id);
    if (it == by_container_.end()) return;
    auto [key, replica] = it->second;
    if (replica->state != ReplicaState::kReady && replica->state != ReplicaState::kStarting) return;
    if (replica->abandoned) return;
    if (event.action == "oom") {
      // The kernel killed one process in the container (a function call over its memory;
      // the shim answers that call with a 500). Only the container's end ("die": the shim,
      // PID 1, exited) makes the replica dead, so its other calls carry on.
      replica->out_of_memory = true;
      replica->last_error = "a function process ran out of memory and was killed";
      if (Function* fn = FindLocked(key)) {
        fn->last_error = fmt::format("replica {}: {}", replica->key, replica->last_error);
      }
      core::Log(LogLevel::kWarn, "pool: {} replica {} ({}): {}", key, replica->key, replica->id,
                replica->last_error);
      return;
    }
    auto code = event.attributes.find("exitCode");
    std::string reason =
        fmt::format("container exited (code {}){}", code == event.attributes.end() ? "?" : code->second,
                    replica->out_of_memory ? " after running out of memory" : "");
    MarkDeadLocked(key, replica, reason, deferred);
  }
  RunDeferred(deferred);
  WakeLoop();
}

void PoolCore::WakeLoop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_wake_ = true;
  }
  loop_cv_.notify_all();
}

void PoolCore::ControlLoop() {
  for (int pass = 1;; ++pass) {
    Reconcile();
    if (pass % kSweepEveryPasses == 0) Sweep();
    if (pass % kHealthEveryPasses == 0 && !health_running_.exchange(true)) {
      if (!runner_.Post([this] { HealthCheck(); })) health_running_ = false;
    }
    milliseconds wait = options_.control_interval;
    {
      std::lock_guard<std::mutex> lock(mu_);
      SteadyTime now = clock_.Now();
      for (const auto& [key, fn] : functions_) {
        for (const auto& w : fn->queue) {
          auto left = std::chrono::duration_cast<milliseconds>(w.deadline - now) + milliseconds(1);
          wait = std::max(std::min(wait, left), milliseconds(1));
        }
        // The start planner waits to see how long calls take (a past time is a stale plan).
        if (auto at = fn->demand.replan_at(); at && *at > now && !fn->queue.empty()) {
          wait =
              std::min(wait, std::chrono::duration_cast<milliseconds>(*at - now) + milliseconds(1));
        }
      }
    }
    std::unique_lock<std::mutex> lock(loop_mu_);
    loop_cv_.wait_for(lock, wait, [&] { return loop_stop_ || loop_wake_; });
    loop_wake_ = false;
    if (loop_stop_) return;
  }
}

void PoolCore::EventsLoop(std::stop_token stop) {
  docker::EventsOptions options;
  options.labels = Selector();
  options.types = {"container"};
  options.actions = {"die", "oom"};
  while (!stop.stop_requested()) {
    auto status = docker_.Events(options, [this](const docker::Event& e) {
      OnEvent(e);
      return true;
    }, stop);
    if (stop.stop_requested()) return;
    if (!status) core::Log(LogLevel::kWarn, "pool: events stream: {}", status.error().ToString());
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
  }
}

// ---- management ----

core::Status PoolCore::Start(const std::vector<Deployment>& current) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return core::Error::Conflict("the pool is already started");
    if (stopping_) return core::Error::Conflict("the pool was stopped");
    started_ = true;
  }
  std::error_code ec;
  fs::create_directories(options_.run_dir, ec);
  if (ec) return core::Error::Internal(fmt::format("create {}: {}", options_.run_dir, ec.message()));

  if (auto s = EnsureReplicaNetwork(docker_, network_, labels_); !s) return s.error().WithContext("pool start");
  auto containers = docker_.ListContainers(Selector(), /*all=*/true);
  if (!containers) return containers.error().WithContext("pool start: list replicas");
  std::map<std::string, const Deployment*> wanted;
  for (const auto& d : current) wanted[Key(d.namespace_name, d.name)] = &d;

  SteadyTime now = clock_.Now();
  std::vector<std::pair<std::string, std::shared_ptr<Replica>>> adopted;
  std::set<std::string> kept_dirs;
  for (const auto& c : *containers) {
    auto label = [&](const char* name) {
      auto it = c.labels.find(name);
      return it == c.labels.end() ? std::string() : it->second;
    };
    std::string key = Key(label(kNamespaceLabel), label(kFunctionLabel));
    std::string replica_key = label(kReplicaLabel);
    auto d = wanted.find(key);
    bool adopt = d != wanted.end() && label(kGenerationLabel) == std::to_string(d->second->generation) &&
                 c.state == "running" && IsReplicaKey(replica_key) &&
                 c.network_mode == ExpectedNetworkMode(*d->second);
    auto replica = std::make_shared<Replica>();
    if (adopt) {
      const Deployment& dep = *d->second;
      replica->key = replica_key;
      replica->id = c.id;
      replica->generation = dep.generation;
      replica->slots = std::max(dep.concurrency, 1);
      replica->paths = PathsFor(options_.run_dir, replica_key);
      if (dep.http_port > 0) {
        auto info = docker_.InspectContainer(c.id);
        auto port = info ? info->host_ports.find(std::to_string(dep.http_port) + "/tcp")
                         : std::map<std::string, int>::const_iterator();
        adopt = info && port != info->host_ports.end();
        if (adopt) replica->endpoint.port = port->second;
      } else {
        replica->endpoint.unix_socket = replica->paths.SocketPath();
      }
      adopt = adopt && probe_.WaitReady(replica->endpoint, std::min(kAdoptProbeLimit, options_.ready_timeout),
                                        [this] { return stopping_.load(); });
    }
    if (adopt) {
      replica->state = ReplicaState::kReady;
      replica->last_used = now;
      replica->ready_at = now;
      replica->started = std::chrono::system_clock::now();
      kept_dirs.insert(replica_key);
      adopted.emplace_back(key, replica);
      core::Log(LogLevel::kInfo, "pool: {} adopted replica {} ({})", key, replica_key, c.id);
    } else {
      auto removed = docker_.RemoveContainer(c.id, {.force = true});
      if (!removed && removed.error().code() != core::ErrorCode::kNotFound) {
        core::Log(LogLevel::kWarn, "pool: remove {}: {}", c.id, removed.error().ToString());
      }
      if (IsReplicaKey(replica_key)) RemoveReplicaFiles(PathsFor(options_.run_dir, replica_key));
      core::Log(LogLevel::kInfo, "pool: removed container {} ({} generation {}, {})", c.id, key,
                label(kGenerationLabel), c.state);
    }
  }
  // Directories of replicas that are gone (only ones named like ours).
  for (const auto& entry : fs::directory_iterator(options_.run_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (IsReplicaKey(name) && kept_dirs.count(name) == 0) RemoveReplicaFiles(PathsFor(options_.run_dir, name));
  }

  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& d : current) {
      std::string key = Key(d.namespace_name, d.name);
      if (functions_.count(key) == 0) functions_[key] = std::make_unique<Function>(d);
    }
    for (auto& [key, replica] : adopted) {
      functions_[key]->replicas[replica->key] = replica;
      by_container_[replica->id] = {key, replica};
    }
    for (auto& [key, fn] : functions_) ReplenishLocked(*fn, key, now);
  }
  if (options_.control_loop) control_thread_ = std::thread([this] { ControlLoop(); });
  if (options_.watch_events) events_thread_ = std::jthread([this](std::stop_token stop) { EventsLoop(stop); });
  return core::Ok();
}

void PoolCore::Stop() {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [key, fn] : functions_) {
      FailWaitersLocked(*fn, core::Error::Unavailable("the pool is stopping"), deferred);
    }
    changed_.notify_all();
  }
  RunDeferred(deferred);
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_stop_ = true;
  }
  loop_cv_.notify_all();
  if (control_thread_.joinable()) control_thread_.join();
  if (events_thread_.joinable()) {
    events_thread_.request_stop();
    events_thread_.join();
  }
  runner_.Shutdown();
  dispatcher_.Flush();  // every hand-off already decided reaches its caller
  dispatcher_.Shutdown();
}

core::Status PoolCore::Apply(const Deployment& d) {
  if (d.namespace_name.empty() || d.name.empty()) return core::Error::InvalidArgument("a deployment needs a namespace and a name");
  if (d.image.empty()) return core::Error::InvalidArgument("a deployment needs an image");
  if (d.concurrency < 1 || d.max_replicas < 1 || d.min_replicas < 0 || d.min_replicas > d.max_replicas ||
      d.max_queue < 0) {
    return core::Error::InvalidArgument(
        fmt::format("bad deployment of {}/{}: concurrency {}, replicas {}..{}, queue {}", d.namespace_name, d.name,
                    d.concurrency, d.min_replicas, d.max_replicas, d.max_queue));
  }
  if (d.network == NetworkAccess::kNone && d.http_port > 0) {
    return core::Error::InvalidArgument(fmt::format(
        "bad deployment of {}/{}: network none, but it serves HTTP on port {} (reached through a published port)",
        d.namespace_name, d.name, d.http_port));
  }
  const std::string key = Key(d.namespace_name, d.name);
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return core::Error::Unavailable("the pool is stopping");
  SteadyTime now = clock_.Now();
  Function* fn = FindLocked(key);
  if (fn != nullptr && fn->removed) return core::Error::Conflict(fmt::format("{} is being removed", key));
  if (fn == nullptr) {
    fn = (functions_[key] = std::make_unique<Function>(d)).get();
    for (int i = 0; i < d.min_replicas; ++i) StartReplicaLocked(*fn, key);
    return core::Ok();
  }
  if (d.generation < fn->deployment.generation) {
    return core::Error::Conflict(fmt::format("{}: generation {} is older than the running {}", key, d.generation,
                                             fn->deployment.generation));
  }
  if (d.generation == fn->deployment.generation) {
    // Same containers, new settings (scale, queue, timeouts).
    fn->deployment = d;
    fn->scaler = autoscaler::Autoscaler(PolicyFor(d));
    ReplenishLocked(*fn, key, now);
    return core::Ok();
  }
  bool had_ready = false;
  for (const auto& [k, r] : fn->replicas) had_ready |= r->state == ReplicaState::kReady;
  fn->deployment = d;
  fn->scaler = autoscaler::Autoscaler(PolicyFor(d));
  fn->manual.reset();
  fn->start_failures = 0;
  fn->retry_after = {};
  int want = had_ready ? std::max(d.min_replicas, 1) : d.min_replicas;
  if (want == 0) {
    for (const auto& [k, r] : fn->replicas) DrainLocked(key, r);
    return core::Ok();
  }
  std::vector<std::shared_ptr<Replica>> fresh;
  for (int i = 0; i < want; ++i) {
    if (auto r = StartReplicaLocked(*fn, key)) fresh.push_back(r);
  }
  // The old generation keeps serving until one of these is ready (EndStart drains it).
  SteadyTime deadline = clock_.Now() + options_.ready_timeout + std::chrono::seconds(10);
  WaitUntilLocked(lock, deadline, [&] {
    return stopping_ || std::none_of(fresh.begin(), fresh.end(), [](const auto& r) { return r->task_active; });
  });
  if (std::any_of(fresh.begin(), fresh.end(), [](const auto& r) { return r->state == ReplicaState::kReady ||
                                                                         r->state == ReplicaState::kDraining; })) {
    return core::Ok();
  }
  fn = FindLocked(key);
  std::string why = fn != nullptr ? fn->last_error : "removed meanwhile";
  if (stopping_) why = "the pool is stopping";
  return core::Error::Internal(
      fmt::format("{}: generation {} did not become ready (the previous one keeps serving): {}", key, d.generation,
                  why));
}

core::Status PoolCore::Remove(const std::string& ns, const std::string& name) {
  const std::string key = Key(ns, name);
  Deferred deferred;
  milliseconds grace{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    Function* fn = FindLocked(key);
    if (fn == nullptr) return core::Error::NotFound(fmt::format("function {} not found", key));
    fn->removed = true;
    grace = fn->deployment.timeout;
    FailWaitersLocked(*fn, core::Error::NotFound(fmt::format("function {} was removed", key)), deferred);
    for (const auto& [k, r] : fn->replicas) DrainLocked(key, r);
  }
  RunDeferred(deferred);
  std::unique_lock<std::mutex> lock(mu_);
  // Calls in flight finish (within the function's timeout); then the rest is forced.
  auto empty = [&] {
    Function* fn = FindLocked(key);
    return fn == nullptr || fn->replicas.empty() || stopping_;
  };
  SteadyTime deadline = clock_.Now() + grace + options_.ready_timeout + std::chrono::seconds(5);
  if (!WaitUntilLocked(lock, deadline, empty)) {
    if (Function* fn = FindLocked(key)) {
      auto replicas = fn->replicas;
      for (const auto& [k, r] : replicas) MarkDeadLocked(key, r, "function removed", deferred);
    }
    WaitUntilLocked(lock, clock_.Now() + std::chrono::seconds(15), empty);
  }
  auto it = functions_.find(key);
  bool left = it != functions_.end() && !it->second->replicas.empty();
  if (it != functions_.end() && it->second->removed) functions_.erase(it);
  lock.unlock();
  RunDeferred(deferred);
  if (left) return core::Error::Internal(fmt::format("{}: replicas left after removal", key));
  return core::Ok();
}

core::Status PoolCore::Scale(const std::string& ns, const std::string& name, int replicas) {
  const std::string key = Key(ns, name);
  if (replicas < 0) return core::Error::InvalidArgument(fmt::format("{}: replicas must be >= 0, not {}", key, replicas));
  std::lock_guard<std::mutex> lock(mu_);
  Function* fn = FindLocked(key);
  if (fn == nullptr || fn->removed) return core::Error::NotFound(fmt::format("function {} not found", key));
  // Never a loop of starts beyond scale.max under this mutex, whatever the caller checked.
  const Deployment& d = fn->deployment;
  if (replicas < d.min_replicas || replicas > d.max_replicas) {
    return core::Error::InvalidArgument(fmt::format("{}: replicas must be within [{}, {}] (scale.min, scale.max), not {}",
                                                    key, d.min_replicas, d.max_replicas, replicas));
  }
  SteadyTime now = clock_.Now();
  fn->manual = replicas;
  fn->manual_until = now + std::max(fn->deployment.idle_timeout, options_.control_interval * 2);
  fn->desired = replicas;
  int active = ActiveLocked(*fn);
  for (int n = active; n < replicas; ++n) StartReplicaLocked(*fn, key);
  if (replicas < active) {
    // Idle replicas first (longest idle), then ones still starting, then busy ones (they drain).
    std::vector<std::shared_ptr<Replica>> order;
    for (const auto& [k, r] : fn->replicas) {
      if (r->generation == fn->deployment.generation && !r->abandoned &&
          (r->state == ReplicaState::kReady || r->state == ReplicaState::kStarting)) {
        order.push_back(r);
      }
    }
    auto rank = [](const Replica& r) { return r.state == ReplicaState::kStarting ? 1 : r.in_flight > 0 ? 2 : 0; };
    std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
      return rank(*a) != rank(*b) ? rank(*a) < rank(*b) : a->last_used < b->last_used;
    });
    for (int i = 0; i < active - replicas; ++i) DrainLocked(key, order[static_cast<size_t>(i)]);
  }
  return core::Ok();
}

core::Result<int> PoolCore::UpdateSecret(const std::string& ns, const std::string& secret,
                                         const std::string& value) {
  std::lock_guard<std::mutex> secrets_lock(secrets_mu_);
  std::vector<std::pair<std::string, ReplicaPaths>> targets;  // (function/replica, paths)
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, fn] : functions_) {
      if (fn->deployment.namespace_name != ns) continue;
      auto it = fn->deployment.secrets.find(secret);
      if (it == fn->deployment.secrets.end()) continue;
      it->second = value;
      for (const auto& [replica_key, replica] : fn->replicas) {
        // Older generations still draining read it too; a replica whose files are not made
        // yet gets the new value from its start (which waits for secrets_mu_).
        if (replica->state == ReplicaState::kDead) continue;
        targets.emplace_back(key + "/" + replica_key, replica->paths);
      }
    }
  }
  int updated = 0;
  std::optional<core::Error> first_error;
  for (const auto& [what, paths] : targets) {
    auto s = ReplaceSecretFile(paths, secret, value, options_.secrets_uid);
    if (s) {
      ++updated;
    } else if (s.error().code() != core::ErrorCode::kNotFound) {
      core::Log(LogLevel::kWarn, "pool: {}: update secret {}: {}", what, secret,
                s.error().ToString());
      if (!first_error) first_error = s.error().WithContext(fmt::format("replica {}", what));
    }
  }
  if (first_error) return *first_error;
  if (updated > 0)
    core::Log(LogLevel::kInfo, "pool: secret {}/{} replaced in {} replica(s)", ns, secret, updated);
  return updated;
}

core::Result<FunctionStatus> PoolCore::Describe(const std::string& ns, const std::string& name) const {
  const std::string key = Key(ns, name);
  std::lock_guard<std::mutex> lock(mu_);
  Function* fn = FindLocked(key);
  if (fn == nullptr || fn->removed) return core::Error::NotFound(fmt::format("function {} not found", key));
  FunctionStatus s;
  s.namespace_name = ns;
  s.name = name;
  s.generation = fn->deployment.generation;
  s.queued = static_cast<int>(fn->queue.size());
  s.last_error = fn->last_error;
  s.last_call = fn->last_call_wall;
  for (const auto& [k, r] : fn->replicas) {
    ReplicaStatus rs;
    rs.id = r->id.empty() ? r->key : r->id;
    rs.generation = r->generation;
    rs.state = std::string(ReplicaStateName(r->state));
    rs.in_flight = r->in_flight;
    rs.started = r->started;
    rs.last_error = r->last_error;
    if (r->state == ReplicaState::kReady) ++s.ready;
    if (r->state == ReplicaState::kStarting) ++s.starting;
    s.in_flight += r->in_flight;
    s.replicas.push_back(std::move(rs));
  }
  return s;
}

std::vector<FunctionStatus> PoolCore::List() const {
  std::vector<std::pair<std::string, std::string>> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, fn] : functions_) {
      if (!fn->removed) names.emplace_back(fn->deployment.namespace_name, fn->deployment.name);
    }
  }
  std::vector<FunctionStatus> out;
  for (const auto& [ns, name] : names) {
    if (auto s = Describe(ns, name)) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace detail

// ---- Lease ----

Lease::State::~State() {
  if (core) core->Release(function, replica, leased_at);
}

Lease::Lease(std::shared_ptr<State> state) : state_(std::move(state)) {}
Lease::Lease(Lease&&) noexcept = default;
Lease& Lease::operator=(Lease&&) noexcept = default;
Lease::~Lease() = default;

const Endpoint& Lease::endpoint() const {
  static const Endpoint kNone;
  return state_ ? state_->endpoint : kNone;
}

const std::string& Lease::replica_id() const {
  static const std::string kNone;
  return state_ ? state_->replica_id : kNone;
}

bool Lease::cold_start() const { return state_ && state_->cold; }

std::chrono::milliseconds Lease::timeout() const { return state_ ? state_->timeout : std::chrono::milliseconds(30'000); }

void Lease::Fail(const std::string& reason) {
  if (state_) state_->core->Fail(state_->function, state_->replica, reason);
}

// ---- Pool ----

Pool::Pool(docker::DockerClient& docker, PoolOptions options)
    : core_(std::make_shared<detail::PoolCore>(docker, std::move(options))) {}
Pool::~Pool() { Stop(); }

core::Status Pool::Start(const std::vector<Deployment>& current) { return core_->Start(current); }
void Pool::Stop() { core_->Stop(); }
core::Status Pool::Apply(const Deployment& deployment) { return core_->Apply(deployment); }
core::Status Pool::Remove(const std::string& ns, const std::string& name) { return core_->Remove(ns, name); }
core::Status Pool::Scale(const std::string& ns, const std::string& name, int replicas) {
  return core_->Scale(ns, name, replicas);
}
core::Result<int> Pool::UpdateSecret(const std::string& ns, const std::string& secret,
                                     const std::string& value) {
  return core_->UpdateSecret(ns, secret, value);
}
void Pool::Acquire(const std::string& ns, const std::string& name, AcquireCallback done) {
  core_->Acquire(ns, name, std::move(done));
}
core::Result<FunctionStatus> Pool::Describe(const std::string& ns, const std::string& name) const {
  return core_->Describe(ns, name);
}
std::vector<FunctionStatus> Pool::List() const { return core_->List(); }
void Pool::Reconcile() { core_->Reconcile(); }
void Pool::Flush() { core_->Flush(); }

}  // namespace gantry::pool
