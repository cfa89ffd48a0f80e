#include "pool/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/log.h"
#include "pool/adoption.h"
#include "pool/keep_alive_control.h"
#include "pool/lease_state.h"
#include "pool/pool_core.h"
#include "pool/replica_files.h"
#include "pool/replica_network.h"

namespace gantry::pool {
namespace detail {
namespace {

namespace fs = std::filesystem;
using core::SteadyTime;
using std::chrono::milliseconds;
using LogLevel = core::LogLevel;

constexpr milliseconds kClockPoll{50};  // how often a blocked Apply/Remove reads the clock again

std::string Key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

}  // namespace

PoolCore::PoolCore(docker::DockerClient& docker, PoolOptions options)
    : lifecycle_(std::make_shared<ReplicaLifecycle>(docker, std::move(options),
                                                    [this] { control_.Wake(); })),
      control_(functions_, *lifecycle_),
      events_(*lifecycle_, [this] { control_.Wake(); }) {}

template <typename Pred>
bool PoolCore::WaitUntilLocked(FunctionReplicas& fn, std::unique_lock<std::mutex>& lock,
                               SteadyTime deadline, Pred done) {
  while (!done()) {
    if (lifecycle_->clock().Now() >= deadline) return false;
    fn.changed.wait_for(lock, kClockPoll);
  }
  return true;
}

// ---- the warm path: memory only, this function's lock only ----

void PoolCore::Acquire(const std::string& ns, const std::string& name, AcquireCallback done) {
  const std::string key = Key(ns, name);
  std::optional<core::Result<Lease>> answer;
  bool first_waiter = false;
  std::shared_ptr<FunctionReplicas> fn = functions_.Find(key);
  if (fn == nullptr) {
    answer.emplace(core::Error::NotFound(fmt::format("function {} not found", key)));
  } else {
    std::lock_guard<std::mutex> lock(fn->mu);
    answer = AcquireLocked(*fn, done, first_waiter);
  }
  if (answer) {
    done(std::move(*answer));
  } else if (first_waiter) {
    control_.Wake();  // the control loop now watches this call's queue deadline
  }
}

std::optional<core::Result<Lease>> PoolCore::AcquireLocked(FunctionReplicas& fn,
                                                           AcquireCallback& done,
                                                           bool& first_waiter) {
  if (fn.removed) return core::Error::NotFound(fmt::format("function {} not found", fn.key));
  if (lifecycle_->stopping()) return core::Error::Unavailable("the pool is stopping");
  SteadyTime now = lifecycle_->clock().Now();
  fn.last_call = now;
  fn.last_call_wall = std::chrono::system_clock::now();
  if (fn.manual_until_call) {  // a count held until a call: the usual rules again
    fn.manual.reset();
    fn.manual_until_call = false;
  }
  fn.CallArrivedLocked(now);
  if (std::optional<Lease> lease = lifecycle_->LeaseLocked(fn, /*cold=*/false, now)) {
    return core::Result<Lease>(std::move(*lease));
  }
  if (static_cast<int>(fn.queue.size()) >= fn.deployment.max_queue) {
    return core::Error::Unavailable(fmt::format(
        "queue full: {} calls already wait for a replica of {}", fn.queue.size(), fn.key));
  }
  if (!fn.HasLiveOrStartingReplicaLocked() && now < fn.retry_after) {
    return core::Error::Internal(fmt::format("{}: {}", fn.key, fn.last_error));
  }
  first_waiter = fn.queue.empty();
  fn.queue.push_back({std::move(done), now + fn.deployment.queue_timeout});
  fn.UpdateWindowLocked(now);
  lifecycle_->EnsureCapacityLocked(fn, now);
  return std::nullopt;
}

// ---- management ----

core::Status PoolCore::Start(const std::vector<Deployment>& current) {
  {
    std::lock_guard<std::mutex> lock(start_mu_);
    if (started_) return core::Error::Conflict("the pool is already started");
    if (lifecycle_->stopping()) return core::Error::Conflict("the pool was stopped");
    started_ = true;
  }
  const PoolOptions& options = lifecycle_->options();
  std::error_code ec;
  fs::create_directories(options.run_dir, ec);
  if (ec) return core::Error::Internal(fmt::format("create {}: {}", options.run_dir, ec.message()));

  if (auto s =
          EnsureReplicaNetwork(lifecycle_->docker(), lifecycle_->network(), lifecycle_->labels());
      !s) {
    return s.error().WithContext("pool start");
  }
  auto adopted = AdoptOrRemoveContainers(*lifecycle_, current);
  if (!adopted) return adopted.error();

  for (const auto& d : current) {
    functions_.Insert(std::make_shared<FunctionReplicas>(Key(d.namespace_name, d.name), d));
  }
  std::vector<PoolEvent> adopted_events;
  for (auto& a : *adopted) {
    auto fn = functions_.Find(a.function);
    std::lock_guard<std::mutex> lock(fn->mu);
    a.replica->container_started = true;
    for (auto kind : {PoolEvent::Kind::kReplicaStarting, PoolEvent::Kind::kReplicaReady}) {
      adopted_events.push_back(ReplicaLifecycle::EventLocked(*fn, a.replica.get(), kind));
      adopted_events.back().reason = "adopted";
    }
    lifecycle_->AdoptLocked(*fn, std::move(a.replica));
  }
  for (const auto& e : adopted_events) lifecycle_->Emit(e);
  SteadyTime now = lifecycle_->clock().Now();
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    lifecycle_->ReplenishLocked(*fn, now);
  }
  if (options.control_loop) control_.StartThread();
  if (options.watch_events) events_.Start();
  // What an earlier gantryd left is gone or adopted: cells can be made now.
  lifecycle_->stem_cells().Enable();
  return core::Ok();
}

void PoolCore::Stop() {
  lifecycle_->BeginStop();
  Deferred deferred;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    fn->FailWaitersLocked(core::Error::Unavailable("the pool is stopping"), deferred);
    fn->changed.notify_all();
  }
  RunDeferred(deferred);
  lifecycle_->stem_cells().Stop();
  control_.StopThread();
  events_.Stop();
  lifecycle_->ShutdownTasks();
}

core::Status PoolCore::Apply(const Deployment& d) {
  if (d.namespace_name.empty() || d.name.empty()) {
    return core::Error::InvalidArgument("a deployment needs a namespace and a name");
  }
  if (d.image.empty()) return core::Error::InvalidArgument("a deployment needs an image");
  if (d.concurrency < 1 || d.max_replicas < 1 || d.min_replicas < 0 ||
      d.min_replicas > d.max_replicas || d.max_queue < 0) {
    return core::Error::InvalidArgument(fmt::format(
        "bad deployment of {}/{}: concurrency {}, replicas {}..{}, queue {}", d.namespace_name,
        d.name, d.concurrency, d.min_replicas, d.max_replicas, d.max_queue));
  }
  if (d.network == NetworkAccess::kNone && d.http_port > 0) {
    return core::Error::InvalidArgument(
        fmt::format("bad deployment of {}/{}: network none, but it serves HTTP on port {} "
                    "(reached through a published port)",
                    d.namespace_name, d.name, d.http_port));
  }
  const std::string key = Key(d.namespace_name, d.name);
  if (lifecycle_->stopping()) return core::Error::Unavailable("the pool is stopping");
  std::shared_ptr<FunctionReplicas> fn = functions_.Find(key);
  if (fn == nullptr) {
    // A new function: its replicas start under its lock before any call can see it.
    auto fresh = std::make_shared<FunctionReplicas>(key, d);
    std::unique_lock<std::mutex> lock(fresh->mu);
    fn = functions_.Insert(fresh);
    if (fn == fresh) {
      for (int i = 0; i < d.min_replicas; ++i) lifecycle_->StartReplicaLocked(*fn);
      return core::Ok();
    }
  }
  std::unique_lock<std::mutex> lock(fn->mu);
  if (lifecycle_->stopping()) return core::Error::Unavailable("the pool is stopping");
  if (fn->removed) return core::Error::Conflict(fmt::format("{} is being removed", key));
  if (d.generation < fn->deployment.generation) {
    return core::Error::Conflict(fmt::format("{}: generation {} is older than the running {}", key,
                                             d.generation, fn->deployment.generation));
  }
  if (d.generation == fn->deployment.generation) {
    // Same containers, new settings (scale, queue, timeouts).
    fn->SetDeploymentLocked(d);
    lifecycle_->ReplenishLocked(*fn, lifecycle_->clock().Now());
    return core::Ok();
  }
  return ApplyNewGenerationLocked(*fn, lock, d);
}

core::Status PoolCore::ApplyNewGenerationLocked(FunctionReplicas& fn,
                                                std::unique_lock<std::mutex>& lock,
                                                const Deployment& d) {
  bool had_ready = false;
  for (const auto& [k, r] : fn.replicas) had_ready |= r->state == ReplicaState::kReady;
  fn.SetDeploymentLocked(d);
  fn.manual.reset();
  fn.manual_until_call = false;
  fn.start_failures = 0;
  fn.retry_after = {};
  int want = had_ready ? std::max(d.min_replicas, 1) : d.min_replicas;
  if (want == 0) {
    std::vector<std::shared_ptr<Replica>> all;
    for (const auto& [k, r] : fn.replicas) all.push_back(r);
    for (const auto& r : all) lifecycle_->DrainLocked(fn, r, "new generation");
    return core::Ok();
  }
  std::vector<std::shared_ptr<Replica>> fresh;
  for (int i = 0; i < want; ++i) {
    if (auto r = lifecycle_->StartReplicaLocked(fn)) fresh.push_back(r);
  }
  // The old generation keeps serving until one of these is ready (EndStart drains it).
  SteadyTime deadline =
      lifecycle_->clock().Now() + lifecycle_->options().ready_timeout + std::chrono::seconds(10);
  WaitUntilLocked(fn, lock, deadline, [&] {
    return lifecycle_->stopping() ||
           std::none_of(fresh.begin(), fresh.end(), [](const auto& r) { return r->task_active; });
  });
  if (std::any_of(fresh.begin(), fresh.end(), [](const auto& r) {
        return r->state == ReplicaState::kReady || r->state == ReplicaState::kDraining;
      })) {
    return core::Ok();
  }
  std::string why = fn.removed ? "removed meanwhile" : fn.last_error;
  if (lifecycle_->stopping()) why = "the pool is stopping";
  return core::Error::Internal(
      fmt::format("{}: generation {} did not become ready (the previous one keeps serving): {}",
                  fn.key, d.generation, why));
}

core::Status PoolCore::Remove(const std::string& ns, const std::string& name) {
  const std::string key = Key(ns, name);
  std::shared_ptr<FunctionReplicas> fn = functions_.Find(key);
  if (fn == nullptr) return core::Error::NotFound(fmt::format("function {} not found", key));
  Deferred deferred;
  milliseconds grace{0};
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    fn->removed = true;
    grace = fn->deployment.timeout;
    fn->FailWaitersLocked(core::Error::NotFound(fmt::format("function {} was removed", key)),
                          deferred);
    std::vector<std::shared_ptr<Replica>> all;
    for (const auto& [k, r] : fn->replicas) all.push_back(r);
    for (const auto& r : all) lifecycle_->DrainLocked(*fn, r, "function removed");
  }
  RunDeferred(deferred);
  bool left = false;
  {
    std::unique_lock<std::mutex> lock(fn->mu);
    // Calls in flight finish (within the function's timeout); then the rest is forced.
    auto empty = [&] { return fn->replicas.empty() || lifecycle_->stopping(); };
    SteadyTime deadline = lifecycle_->clock().Now() + grace + lifecycle_->options().ready_timeout +
                          std::chrono::seconds(5);
    if (!WaitUntilLocked(*fn, lock, deadline, empty)) {
      auto replicas = fn->replicas;
      for (const auto& [k, r] : replicas) {
        lifecycle_->MarkDeadLocked(*fn, r, "function removed", deferred);
      }
      WaitUntilLocked(*fn, lock, lifecycle_->clock().Now() + std::chrono::seconds(15), empty);
    }
    left = !fn->replicas.empty();
  }
  functions_.DropIfRemoved(key);
  RunDeferred(deferred);
  if (left) return core::Error::Internal(fmt::format("{}: replicas left after removal", key));
  return core::Ok();
}

core::Status PoolCore::Scale(const std::string& ns, const std::string& name, int replicas,
                             ScaleHold hold) {
  const std::string key = Key(ns, name);
  if (replicas < 0) {
    return core::Error::InvalidArgument(
        fmt::format("{}: replicas must be >= 0, not {}", key, replicas));
  }
  std::shared_ptr<FunctionReplicas> fn = functions_.Find(key);
  if (fn == nullptr) return core::Error::NotFound(fmt::format("function {} not found", key));
  Deferred deferred;  // runs after the lock below is released
  struct RunAtEnd {
    Deferred& d;
    ~RunAtEnd() { RunDeferred(d); }
  } run_at_end{deferred};
  std::lock_guard<std::mutex> lock(fn->mu);
  if (fn->removed) return core::Error::NotFound(fmt::format("function {} not found", key));
  // Never a loop of starts beyond scale.max under this lock, whatever the caller checked.
  const Deployment& d = fn->deployment;
  const bool until_call = hold == ScaleHold::kUntilCall;
  const int least = until_call ? 0 : d.min_replicas;
  if (replicas < least || replicas > d.max_replicas) {
    return core::Error::InvalidArgument(
        fmt::format("{}: replicas must be within [{}, {}] ({}scale.max), not {}", key, least,
                    d.max_replicas, until_call ? "" : "scale.min, ", replicas));
  }
  SteadyTime now = lifecycle_->clock().Now();
  fn->manual = replicas;
  fn->manual_until_call = until_call;
  fn->manual_until =
      until_call ? SteadyTime::max()
                 : now + std::max(d.idle_timeout, lifecycle_->options().control_interval * 2);
  if (fn->desired != replicas) {
    PoolEvent scaled = ReplicaLifecycle::EventLocked(*fn, nullptr, PoolEvent::Kind::kScaled);
    scaled.from = fn->desired;
    scaled.to = replicas;
    scaled.reason = "manual";
    lifecycle_->EmitLater(std::move(scaled), deferred);
  }
  fn->desired = replicas;
  int active = fn->ActiveLocked();
  for (int n = active; n < replicas; ++n) lifecycle_->StartReplicaLocked(*fn);
  if (replicas < active) {
    // Idle replicas first (longest idle), then ones still starting, then busy ones (they drain).
    std::vector<std::shared_ptr<Replica>> order;
    for (const auto& [k, r] : fn->replicas) {
      if (r->generation == d.generation && !r->abandoned &&
          (r->state == ReplicaState::kReady || r->state == ReplicaState::kStarting)) {
        order.push_back(r);
      }
    }
    auto rank = [](const Replica& r) {
      return r.state == ReplicaState::kStarting ? 1 : r.in_flight > 0 ? 2 : 0;
    };
    std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
      return rank(*a) != rank(*b) ? rank(*a) < rank(*b) : a->last_used < b->last_used;
    });
    for (int i = 0; i < active - replicas; ++i) {
      lifecycle_->DrainLocked(*fn, order[static_cast<size_t>(i)], "scaled down");
    }
  }
  return core::Ok();
}

core::Result<int> PoolCore::UpdateSecret(const std::string& ns, const std::string& secret,
                                         const std::string& value) {
  std::lock_guard<std::mutex> secrets_lock(lifecycle_->secrets_mutex());
  struct Target {
    std::string what;  // function/replica
    ReplicaPaths paths;
    int uid;
  };
  std::vector<Target> targets;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (fn->deployment.namespace_name != ns) continue;
    auto it = fn->deployment.secrets.find(secret);
    if (it == fn->deployment.secrets.end()) continue;
    it->second = value;
    const int uid = SecretsUid(fn->deployment, lifecycle_->options());
    for (const auto& [replica_key, replica] : fn->replicas) {
      // Older generations still draining read it too; a replica whose files are not made
      // yet gets the new value from its start (which waits for the secrets lock).
      if (replica->state == ReplicaState::kDead) continue;
      targets.push_back({fn->key + "/" + replica_key, replica->paths, uid});
    }
  }
  int updated = 0;
  std::optional<core::Error> first_error;
  for (const auto& [what, paths, uid] : targets) {
    auto s = ReplaceSecretFile(paths, secret, value, uid);
    if (s) {
      ++updated;
    } else if (s.error().code() != core::ErrorCode::kNotFound) {
      core::Log(LogLevel::kWarn, "pool: {}: update secret {}: {}", what, secret,
                s.error().ToString());
      if (!first_error) first_error = s.error().WithContext(fmt::format("replica {}", what));
    }
  }
  if (first_error) return *first_error;
  if (updated > 0) {
    core::Log(LogLevel::kInfo, "pool: secret {}/{} replaced in {} replica(s)", ns, secret, updated);
  }
  return updated;
}

core::Result<FunctionStatus> PoolCore::Describe(const std::string& ns,
                                                const std::string& name) const {
  const std::string key = Key(ns, name);
  std::shared_ptr<FunctionReplicas> fn = functions_.Find(key);
  if (fn == nullptr) return core::Error::NotFound(fmt::format("function {} not found", key));
  std::lock_guard<std::mutex> lock(fn->mu);
  if (fn->removed) return core::Error::NotFound(fmt::format("function {} not found", key));
  FunctionStatus s;
  s.namespace_name = ns;
  s.name = name;
  s.generation = fn->deployment.generation;
  s.queued = static_cast<int>(fn->queue.size());
  s.last_error = fn->last_error;
  s.last_call = fn->last_call_wall;
  s.min_replicas = fn->deployment.min_replicas;
  s.max_replicas = fn->deployment.max_replicas;
  s.desired = fn->desired;
  s.held_until_call = fn->manual_until_call;
  s.failures_in_a_row = fn->start_failures;
  if (SteadyTime now = lifecycle_->clock().Now(); fn->retry_after > now) {
    s.next_retry =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(fn->retry_after - now);
  }
  s.last_failure = fn->last_failure;
  s.last_failure_time = fn->last_failure_time;
  s.last_failure_before_ready = fn->last_failure_before_ready;
  s.last_lines = fn->last_lines;
  s.keep_alive = KeepAliveSummaryLocked(*fn);
  for (const auto& line : fn->last_lines) {
    if (!line.text.empty()) s.last_log_line = line.text;
  }
  for (const auto& [k, r] : fn->replicas) {
    ReplicaStatus rs;
    rs.id = r->id.empty() ? r->key : r->id;
    rs.generation = r->generation;
    bool paused = r->state == ReplicaState::kReady && r->pause != PauseState::kRunning;
    rs.state = paused ? "paused" : std::string(ReplicaStateName(r->state));
    rs.in_flight = r->in_flight;
    rs.started = r->started;
    rs.last_error = r->last_error;
    rs.exit_code = r->exit_code;
    rs.oom = r->out_of_memory;
    if (r->state == ReplicaState::kReady) ++s.ready;
    if (paused) ++s.paused;
    if (r->state == ReplicaState::kStarting) ++s.starting;
    s.in_flight += r->in_flight;
    s.replicas.push_back(std::move(rs));
  }
  return s;
}

std::vector<FunctionStatus> PoolCore::List() const {
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (!fn->removed) names.emplace_back(fn->deployment.namespace_name, fn->deployment.name);
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
  if (lifecycle) lifecycle->Release(function, replica, leased_at);
}

Lease::Lease(std::shared_ptr<State> state) : state_(std::move(state)) {}
Lease::Lease(Lease&&) noexcept = default;
Lease& Lease::operator=(Lease&&) noexcept = default;
Lease::~Lease() = default;

const Endpoint& Lease::endpoint() const {
  static const Endpoint kNoEndpoint;
  return state_ ? state_->endpoint : kNoEndpoint;
}

const std::string& Lease::replica_id() const {
  static const std::string kNoId;
  return state_ ? state_->replica_id : kNoId;
}

bool Lease::cold_start() const {
  return state_ && state_->cold;
}

StartPath Lease::start_path() const {
  return state_ ? state_->start : StartPath::kWarm;
}

std::string_view StartPathName(StartPath path) {
  switch (path) {
    case StartPath::kContainer:
      return "container";
    case StartPath::kStemCell:
      return "stem-cell";
    case StartPath::kUnpaused:
      return "unpaused";
    case StartPath::kWarm:
      break;
  }
  return "warm";
}

int64_t Lease::generation() const {
  return state_ ? state_->generation : 0;
}

std::chrono::milliseconds Lease::timeout() const {
  return state_ ? state_->timeout : kDefaultCallTimeout;
}

int64_t Lease::memory_bytes() const {
  return state_ ? state_->memory_bytes : 0;
}

void Lease::Fail(const std::string& reason) {
  if (state_) state_->lifecycle->Fail(state_->function, state_->replica, reason);
}

// ---- Pool ----

Pool::Pool(docker::DockerClient& docker, PoolOptions options)
    : core_(std::make_shared<detail::PoolCore>(docker, std::move(options))) {}
Pool::~Pool() {
  Stop();
}

core::Status Pool::Start(const std::vector<Deployment>& current) {
  return core_->Start(current);
}
void Pool::Stop() {
  core_->Stop();
}
core::Status Pool::Apply(const Deployment& deployment) {
  return core_->Apply(deployment);
}
core::Status Pool::Remove(const std::string& ns, const std::string& name) {
  return core_->Remove(ns, name);
}
core::Status Pool::Scale(const std::string& ns, const std::string& name, int replicas,
                         ScaleHold hold) {
  return core_->Scale(ns, name, replicas, hold);
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
std::vector<FunctionStatus> Pool::List() const {
  return core_->List();
}
void Pool::SetStemImage(const std::string& runtime, const std::string& image, int count) {
  core_->SetStemImage(runtime, image, count);
}

std::map<std::string, int> Pool::FreeStemCells() const {
  return core_->FreeStemCells();
}

void Pool::Reconcile() {
  core_->Reconcile();
}
void Pool::Flush() {
  core_->Flush();
}

}  // namespace gantry::pool
