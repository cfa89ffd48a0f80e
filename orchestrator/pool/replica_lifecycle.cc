#include "pool/replica_lifecycle.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/identity.h"
#include "core/log.h"
#include "pool/container_spec.h"
#include "pool/died_log.h"
#include "pool/failure_reason.h"
#include "pool/lease_state.h"
#include "pool/replica_files.h"
#include "pool/replica_network.h"

namespace gantry::pool {
namespace {

using core::SteadyTime;
using std::chrono::milliseconds;
using LogLevel = core::LogLevel;

constexpr milliseconds kMaxStartBackoff{30'000};

docker::Labels IdentityLabels(const PoolOptions& options) {
  docker::Labels labels = options.extra_labels;
  if (!options.instance_id.empty()) labels[core::kInstanceLabel] = options.instance_id;
  return labels;
}

}  // namespace

ReplicaLifecycle::ReplicaLifecycle(docker::DockerClient& docker, PoolOptions options,
                                   std::function<void()> replan)
    : docker_(docker),
      options_(std::move(options)),
      labels_(IdentityLabels(options_)),
      network_(ReplicaNetworkName(options_)),
      clock_(options_.clock ? *options_.clock : core::SystemClock::Instance()),
      probe_(options_.probe ? *options_.probe : http_probe_),
      replan_(std::move(replan)),
      runner_(options_.workers),
      dispatcher_(1),
      specializer_(options_.specializer ? *options_.specializer : http_specializer_),
      stem_cells_(std::make_shared<StemCells>(
          docker_, options_, labels_, network_, probe_, clock_,
          [this](std::function<void()> task) { return runner_.Post(std::move(task)); })) {}

docker::LabelSelector ReplicaLifecycle::Selector() const {
  // gantry.replica, not gantry.function: specialised stem cells have no function label.
  docker::LabelSelector selector{kReplicaLabel};
  for (const auto& [k, v] : labels_) selector.push_back(fmt::format("{}={}", k, v));
  return selector;
}

// A container on another network than its deployment asks for (made by an older gantryd,
// or the network was renamed) is replaced, not adopted.
std::string ReplicaLifecycle::ExpectedNetworkMode(const Deployment& d) const {
  return d.network == NetworkAccess::kNone && d.http_port == 0 ? "none" : network_;
}

void ReplicaLifecycle::ShutdownTasks() {
  runner_.Shutdown();
  dispatcher_.Flush();  // every hand-off already decided reaches its caller
  dispatcher_.Shutdown();
}

void ReplicaLifecycle::Flush() {
  runner_.Flush();
  dispatcher_.Flush();
}

// ---- events ----

void ReplicaLifecycle::Emit(const PoolEvent& event) const {
  if (options_.on_event) options_.on_event(event);
}

PoolEvent ReplicaLifecycle::EventLocked(const FunctionReplicas& fn, const Replica* replica,
                                        PoolEvent::Kind kind) {
  PoolEvent e;
  e.kind = kind;
  e.namespace_name = fn.deployment.namespace_name;
  e.name = fn.deployment.name;
  e.generation = replica ? replica->generation : fn.deployment.generation;
  if (replica) e.replica = replica->id;
  e.time = std::chrono::system_clock::now();
  return e;
}

void ReplicaLifecycle::EmitLater(PoolEvent event, Deferred& deferred) const {
  if (!options_.on_event) return;
  deferred.push_back([this, e = std::move(event)] { Emit(e); });
}

// ---- leases ----

std::optional<Lease> ReplicaLifecycle::LeaseLocked(FunctionReplicas& fn, bool cold,
                                                   SteadyTime now) {
  std::shared_ptr<Lease::State> state = LeaseStateLocked(fn, cold, now);
  if (!state) return std::nullopt;
  return Lease(std::move(state));
}

std::shared_ptr<Lease::State> ReplicaLifecycle::LeaseStateLocked(FunctionReplicas& fn, bool cold,
                                                                 SteadyTime now) {
  std::shared_ptr<Replica> replica = fn.TakeSlotLocked(now);
  if (!replica) return nullptr;
  auto state = std::make_shared<Lease::State>();
  state->lifecycle = shared_from_this();
  state->function = fn.shared_from_this();
  state->endpoint = replica->endpoint;
  state->replica_id = replica->id;
  state->generation = replica->generation;
  state->replica = std::move(replica);
  state->cold = cold;
  state->start = state->replica->unpaused         ? StartPath::kUnpaused
                 : !cold                          ? StartPath::kWarm
                 : state->replica->from_stem_cell ? StartPath::kStemCell
                                                  : StartPath::kContainer;
  state->timeout = fn.deployment.timeout;
  state->memory_bytes = fn.deployment.memory_bytes;
  state->leased_at = now;
  fn.demand.CallBegan(now);
  return state;
}

void ReplicaLifecycle::DispatchLocked(FunctionReplicas& fn, bool cold, SteadyTime now,
                                      Deferred& deferred) {
  while (!fn.queue.empty()) {
    std::shared_ptr<Lease::State> state = LeaseStateLocked(fn, cold, now);
    if (!state) break;
    AcquireCallback done = std::move(fn.queue.front().done);
    fn.queue.pop_front();
    deferred.push_back([done = std::move(done), state = std::move(state)]() mutable {
      done(core::Result<Lease>(Lease(std::move(state))));
    });
  }
  fn.UpdateWindowLocked(now);
}

void ReplicaLifecycle::Release(const std::shared_ptr<FunctionReplicas>& fn,
                               const std::shared_ptr<Replica>& replica, SteadyTime leased_at) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    SteadyTime now = clock_.Now();
    fn->GiveSlotBackLocked(*replica, now);
    bool ours = fn->OwnsLocked(*replica);
    if (replica->state == ReplicaState::kDraining && replica->in_flight == 0) {
      RetireLocked(*fn, replica);
      fn->changed.notify_all();
    } else if (ours && replica->state == ReplicaState::kReady) {
      DispatchLocked(*fn, /*cold=*/false, now, deferred);
    }
    fn->demand.CallEnded(leased_at, now);  // also from a replica gone dead
    if (ours) {
      fn->UpdateWindowLocked(now);
      EnsureCapacityLocked(*fn, now);  // what the call took may call for a start
    }
  }
  if (!deferred.empty()) {
    auto handoff = std::make_shared<Deferred>(std::move(deferred));
    if (!dispatcher_.Post([handoff] { RunDeferred(*handoff); })) RunDeferred(*handoff);
  }
}

void ReplicaLifecycle::Fail(const std::shared_ptr<FunctionReplicas>& fn,
                            const std::shared_ptr<Replica>& replica, const std::string& reason) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    MarkDeadLocked(*fn, replica, "call failed: " + reason, deferred);
  }
  RunDeferred(deferred);
}

// ---- starting and ending replicas ----

std::shared_ptr<Replica> ReplicaLifecycle::StartReplicaLocked(FunctionReplicas& fn) {
  if (stopping_) return nullptr;
  auto replica = std::make_shared<Replica>();
  replica->key = fn.NewReplicaKeyLocked();
  replica->generation = fn.deployment.generation;
  replica->slots = std::max(fn.deployment.concurrency, 1);
  replica->paths = PathsFor(options_.run_dir, replica->key);
  replica->task_active = true;
  fn.AddLocked(replica);
  Deployment d = fn.deployment;
  auto self = fn.shared_from_this();
  if (!runner_.Post([this, self, replica, d] { StartTask(self, replica, d); })) {
    fn.EraseLocked(replica);
    return nullptr;
  }
  fn.demand.StartBegan(replica->key, clock_.Now());
  core::Log(LogLevel::kInfo, "pool: {} starting replica {} (generation {})", fn.key, replica->key,
            d.generation);
  return replica;
}

void ReplicaLifecycle::EnsureCapacityLocked(FunctionReplicas& fn, SteadyTime now) {
  if (stopping_) return;
  std::optional<SteadyTime> replan_before = fn.demand.replan_at();
  UnpauseForQueueLocked(fn);
  int n = ReplicasToStartForQueue(fn, now);
  for (int i = 0; i < n; ++i) StartReplicaLocked(fn);
  // The control loop sleeps up to control_interval: a new "plan again at" must reach it
  // (its lock is taken under fn.mu here; the loop never takes a function's mu holding it).
  if (replan_ && fn.demand.replan_at() && fn.demand.replan_at() != replan_before) replan_();
}

void ReplicaLifecycle::ReplenishLocked(FunctionReplicas& fn, SteadyTime now) {
  if (fn.removed || stopping_) return;
  EnsureCapacityLocked(fn, now);
  if (now < fn.retry_after) return;
  // A count held until a call (ScaleHold::kUntilCall) may be below scale.min.
  const int floor = fn.manual_until_call ? 0 : fn.deployment.min_replicas;
  int target = std::min(std::max(floor, fn.desired), fn.deployment.max_replicas);
  for (int n = fn.ActiveLocked(); n < target; ++n) StartReplicaLocked(fn);
}

void ReplicaLifecycle::RetireLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica) {
  replica->abandoned = true;
  if (replica->retiring || replica->task_active) return;  // a running start retires it at its end
  replica->retiring = true;
  auto self = fn.shared_from_this();
  runner_.Post([this, self, replica] { RetireTask(self, replica); });
}

void ReplicaLifecycle::DrainLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica,
                                   const std::string& reason) {
  if (replica->state == ReplicaState::kDead || replica->state == ReplicaState::kDraining) return;
  replica->removal_reason = reason;
  if (replica->state == ReplicaState::kStarting) replica->abandoned = true;
  replica->state = ReplicaState::kDraining;
  core::Log(LogLevel::kInfo, "pool: {} draining replica {} ({} in flight)", fn.key, replica->key,
            replica->in_flight);
  if (replica->in_flight == 0) RetireLocked(fn, replica);
}

void ReplicaLifecycle::StartFailedLocked(FunctionReplicas& fn, const std::string& reason,
                                         Deferred& deferred) {
  SteadyTime now = clock_.Now();
  ++fn.start_failures;
  milliseconds backoff = std::min(
      milliseconds(1'000 * (int64_t{1} << std::min(fn.start_failures - 1, 5))), kMaxStartBackoff);
  fn.retry_after = now + backoff;
  fn.last_error = "replica failed to start: " + reason;
  core::Log(LogLevel::kWarn, "pool: {}: {} (next start in {} ms at the earliest)", fn.key,
            fn.last_error, backoff.count());
  // Calls no replica will serve fail now, with the reason, rather than at their timeout.
  if (!fn.HasLiveOrStartingReplicaLocked()) {
    fn.FailWaitersLocked(core::Error::Internal(fmt::format("{}: {}", fn.key, fn.last_error)),
                         deferred);
  }
}

void ReplicaLifecycle::MarkDeadLocked(FunctionReplicas& fn, const std::shared_ptr<Replica>& replica,
                                      const std::string& reason, Deferred& deferred,
                                      int exit_code) {
  if (replica->state == ReplicaState::kDead) return;
  ReplicaState was = replica->state;
  replica->state = ReplicaState::kDead;
  replica->last_error = reason;
  replica->exit_code = exit_code;
  replica->died_before_ready = was == ReplicaState::kStarting;
  core::Log(LogLevel::kWarn, "pool: {} replica {} ({}) is dead: {}", fn.key, replica->key,
            replica->id, reason);
  // Removed at once, calls in flight or not: they cannot succeed on it any more.
  RetireLocked(fn, replica);
  fn.changed.notify_all();
  if (!fn.OwnsLocked(*replica)) return;
  if (was == ReplicaState::kStarting) {
    StartFailedLocked(fn, reason, deferred);
  } else {
    fn.last_error = fmt::format("replica {} died: {}", replica->key, reason);
  }
  if (was != ReplicaState::kDraining) ReplenishLocked(fn, clock_.Now());
}

void ReplicaLifecycle::AdoptLocked(FunctionReplicas& fn, std::shared_ptr<Replica> replica) {
  Register(replica->id, fn.shared_from_this(), replica);
  fn.AddLocked(std::move(replica));
}

void ReplicaLifecycle::StartTask(const std::shared_ptr<FunctionReplicas>& fn,
                                 const std::shared_ptr<Replica>& replica, const Deployment& d) {
  if (d.stem && StartFromStemCell(fn, replica, d)) return;
  auto give_up = [&] { return replica->abandoned.load() || stopping_.load(); };
  {
    std::lock_guard<std::mutex> secrets_lock(secrets_mu_);
    // The values as they are now: UpdateSecret may have changed one since `d` was copied.
    std::map<std::string, std::string> secrets;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      secrets = fn->CurrentSecretsLocked(d.secrets);
    }
    if (auto s = CreateReplicaFiles(replica->paths, secrets, SecretsUid(d, options_),
                                    options_.socket_dir_bytes);
        !s) {
      return EndStart(fn, replica, s.error());
    }
  }
  if (give_up()) return EndStart(fn, replica, std::nullopt);
  auto spec = ReplicaContainerSpec(
      d, replica->key, replica->paths, labels_, options_.stop_timeout_seconds,
      {.max_size = options_.log_max_size, .max_files = options_.log_max_files}, network_);
  auto id = docker_.CreateContainer(spec);
  if (!id && id.error().code() == core::ErrorCode::kNotFound && network_ != kDefaultBridge &&
      spec.network_mode == network_) {
    // The network went away (`docker network prune` while nothing used it): make it again.
    if (auto s = EnsureReplicaNetwork(docker_, network_, labels_); !s) {
      return EndStart(fn, replica, s.error());
    }
    id = docker_.CreateContainer(spec);
  }
  if (!id) return EndStart(fn, replica, id.error());
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    replica->id = *id;
    Register(*id, fn, replica);
  }
  if (give_up()) return EndStart(fn, replica, std::nullopt);
  if (auto s = docker_.StartContainer(*id); !s) return EndStart(fn, replica, s.error());
  {
    PoolEvent started;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      replica->container_started = true;
      started = EventLocked(*fn, replica.get(), PoolEvent::Kind::kReplicaStarting);
    }
    Emit(started);
  }
  Endpoint endpoint;
  if (d.http_port > 0) {
    auto info = docker_.InspectContainer(*id);
    if (!info) return EndStart(fn, replica, info.error());
    auto port = info->host_ports.find(std::to_string(d.http_port) + "/tcp");
    if (port == info->host_ports.end()) {
      return EndStart(fn, replica,
                      core::Error::Internal(fmt::format("port {} was not published", d.http_port)));
    }
    endpoint.port = port->second;
  } else {
    endpoint.unix_socket = replica->paths.SocketPath();
  }
  {
    std::lock_guard<std::mutex> lock(fn->mu);
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
    if (!tail.empty()) {
      error = core::Error(error.code(), error.message() + "; container output: " + tail);
    }
    return EndStart(fn, replica, error);
  }
  EndStart(fn, replica, std::nullopt);
}

void ReplicaLifecycle::EndStart(const std::shared_ptr<FunctionReplicas>& fn,
                                const std::shared_ptr<Replica>& replica,
                                std::optional<core::Error> error) {
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    replica->task_active = false;
    if (stopping_) {
      // Left as it is: a restarted gantryd adopts it when healthy, or removes it.
      fn->changed.notify_all();
      return;
    }
    SteadyTime now = clock_.Now();
    bool ours = !fn->removed && fn->OwnsLocked(*replica);
    fn->demand.StartEnded(replica->key, now, ours && !error && !replica->abandoned);
    if (replica->abandoned || !ours) {
      RetireLocked(*fn, replica);
    } else if (error) {
      MarkDeadLocked(*fn, replica, error->message(), deferred);
    } else {
      replica->state = ReplicaState::kReady;
      replica->last_used = now;
      replica->ready_at = now;
      replica->started = std::chrono::system_clock::now();
      fn->start_failures = 0;
      fn->retry_after = {};
      core::Log(LogLevel::kInfo, "pool: {} replica {} ready ({})", fn->key, replica->key,
                replica->id);
      EmitLater(EventLocked(*fn, replica.get(), PoolEvent::Kind::kReplicaReady), deferred);
      if (replica->generation < fn->deployment.generation) {
        DrainLocked(*fn, replica, "new generation");
      } else {
        // A ready replica of the current generation ends the previous ones' service.
        for (const auto& [k, r] : fn->replicas) {
          if (r->generation < fn->deployment.generation) DrainLocked(*fn, r, "new generation");
        }
        DispatchLocked(*fn, /*cold=*/true, now, deferred);
        EnsureCapacityLocked(*fn, now);
      }
    }
    fn->changed.notify_all();
  }
  RunDeferred(deferred);
}

void ReplicaLifecycle::RetireTask(const std::shared_ptr<FunctionReplicas>& fn,
                                  const std::shared_ptr<Replica>& replica) {
  std::string id;
  bool dead = false;
  bool started = false;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    id = replica->id;
    dead = replica->state == ReplicaState::kDead;
    started = replica->container_started;
  }
  if (dead) ReportDeath(fn, replica, id);
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
  PoolEvent removed;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (!id.empty()) Unregister(id, replica);
    fn->EraseLocked(replica);
    fn->changed.notify_all();
    if (started && (!dead || fn->removed)) {
      removed = EventLocked(*fn, replica.get(), PoolEvent::Kind::kReplicaRemoved);
      removed.reason = fn->removed ? "function removed" : replica->removal_reason;
    } else {
      return;
    }
  }
  Emit(removed);
}

void ReplicaLifecycle::ReportDeath(const std::shared_ptr<FunctionReplicas>& fn,
                                   const std::shared_ptr<Replica>& replica, const std::string& id) {
  FailureFacts facts;
  bool started = false;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (fn->removed) return;  // removed on purpose: RetireTask tells kReplicaRemoved
    started = replica->container_started;
    facts.exit_code = replica->exit_code;
    facts.oom = replica->out_of_memory;
    facts.before_ready = replica->died_before_ready;
    facts.memory_bytes = fn->deployment.memory_bytes;
    facts.engine_reason = replica->last_error;
  }
  std::vector<LogLine> lines;
  if (started && !id.empty()) {
    // Before the container goes: its exit state and last words say why.
    if (auto info = docker_.InspectContainer(id); info && !info->state.running) {
      if (facts.exit_code < 0 && info->state.status == "exited") {
        facts.exit_code = static_cast<int>(info->state.exit_code);
      }
      facts.oom = facts.oom || info->state.oom_killed;
    }
    lines = ReadDiedLog(docker_, id, kDiedLogLines);
  }
  facts.last_lines = &lines;
  std::string reason = DescribeFailure(facts);
  PoolEvent event;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    replica->exit_code = facts.exit_code;
    replica->out_of_memory = facts.oom;
    event = EventLocked(*fn, replica.get(),
                        started ? PoolEvent::Kind::kReplicaDied : PoolEvent::Kind::kStartFailed);
    if (fn->OwnsLocked(*replica) && replica->generation == fn->deployment.generation) {
      fn->last_failure = reason;
      fn->last_failure_time = event.time;
      fn->last_failure_before_ready = facts.before_ready;
      fn->last_lines = lines;
    }
  }
  event.exit_code = facts.exit_code;
  event.oom = facts.oom;
  event.before_ready = facts.before_ready;
  event.reason = std::move(reason);
  event.last_lines = std::move(lines);
  Emit(event);
}

// ---- the container registry ----

void ReplicaLifecycle::Register(const std::string& id, const std::shared_ptr<FunctionReplicas>& fn,
                                const std::shared_ptr<Replica>& replica) {
  std::lock_guard<std::mutex> lock(containers_mu_);
  by_container_[id] = {fn, replica};
}

void ReplicaLifecycle::Unregister(const std::string& id, const std::shared_ptr<Replica>& replica) {
  std::lock_guard<std::mutex> lock(containers_mu_);
  auto it = by_container_.find(id);
  if (it != by_container_.end() && it->second.second == replica) by_container_.erase(it);
}

std::optional<std::pair<std::shared_ptr<FunctionReplicas>, std::shared_ptr<Replica>>>
ReplicaLifecycle::FindContainer(const std::string& id) const {
  std::lock_guard<std::mutex> lock(containers_mu_);
  auto it = by_container_.find(id);
  if (it == by_container_.end()) return std::nullopt;
  return it->second;
}

}  // namespace gantry::pool
