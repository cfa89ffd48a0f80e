#include "pool/control_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "core/log.h"
#include "pool/keep_alive_control.h"

namespace gantry::pool {
namespace {

using core::SteadyTime;
using std::chrono::milliseconds;
using LogLevel = core::LogLevel;

}  // namespace

ControlLoop::ControlLoop(FunctionTable& functions, ReplicaLifecycle& lifecycle)
    : functions_(functions), lifecycle_(lifecycle) {}

ControlLoop::~ControlLoop() {
  StopThread();
}

void ControlLoop::StartThread() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void ControlLoop::StopThread() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_stop_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ControlLoop::Wake() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_wake_ = true;
  }
  loop_cv_.notify_all();
}

void ControlLoop::Reconcile() {
  if (lifecycle_.stopping()) return;
  Deferred deferred;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (lifecycle_.stopping()) break;
    if (fn->removed) continue;
    ReconcileLocked(*fn, lifecycle_.clock().Now(), deferred);
  }
  RunDeferred(deferred);
}

void ControlLoop::ReconcileLocked(FunctionReplicas& fn, SteadyTime now, Deferred& deferred) {
  // Queued calls past their deadline: 503 with a reason.
  fn.ExpireWaitersLocked(now, deferred);
  fn.UpdateWindowLocked(now);

  int active = fn.ActiveLocked();
  autoscaler::Decision decision =
      fn.scaler.Decide(fn.window, active, now, fn.last_call, &fn.arrivals);
  // keepAlive: adaptive may scale an idle function to zero sooner, or prewarm it.
  const milliseconds idle_after = ApplyKeepAliveLocked(lifecycle_, fn, now, decision);
  int desired = decision.desired;
  if (fn.manual && now < fn.manual_until) {
    desired = *fn.manual;
  } else {
    fn.manual.reset();
  }
  if (desired != fn.desired) {
    PoolEvent scaled = ReplicaLifecycle::EventLocked(fn, nullptr, PoolEvent::Kind::kScaled);
    scaled.from = fn.desired;
    scaled.to = desired;
    scaled.reason = fn.manual                                                       ? "manual"
                    : desired == fn.deployment.min_replicas && fn.desired < desired ? "scale.min"
                                                                                    : "autoscaler";
    lifecycle_.EmitLater(std::move(scaled), deferred);
  }
  fn.desired = desired;
  const Deployment& d = fn.deployment;
  if (desired > active && now >= fn.retry_after) {
    core::Log(LogLevel::kDebug, "pool: {} scale {} -> {}: {}", fn.key, active, desired,
              decision.reason);
    for (int n = active; n < std::min(desired, d.max_replicas); ++n) {
      lifecycle_.StartReplicaLocked(fn);
    }
  } else if (desired < active) {
    // Keep-alive: only replicas idle for idle_timeout (or adaptive's window) go, longest
    // idle first.
    std::vector<std::shared_ptr<Replica>> idle;
    for (const auto& [k, r] : fn.replicas) {
      if (r->generation == d.generation && r->state == ReplicaState::kReady && r->in_flight == 0 &&
          now - r->last_used >= idle_after) {
        idle.push_back(r);
      }
    }
    std::sort(idle.begin(), idle.end(),
              [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    for (size_t i = 0; i < idle.size() && static_cast<int>(i) < active - desired; ++i) {
      core::Log(LogLevel::kInfo, "pool: {} scale {} -> {}: {}", fn.key, active, desired,
                decision.reason);
      lifecycle_.DrainLocked(fn, idle[i], "idle");
    }
  }
  // Older generations serve only until a current replica is ready, or until idle.
  bool current_ready = false;
  for (const auto& [k, r] : fn.replicas) {
    current_ready |= r->generation == d.generation && r->state == ReplicaState::kReady;
  }
  std::vector<std::shared_ptr<Replica>> old;
  for (const auto& [k, r] : fn.replicas) {
    if (r->generation >= d.generation) continue;
    if (current_ready || (r->in_flight == 0 && now - r->last_used >= d.idle_timeout)) {
      old.push_back(r);
    }
  }
  for (const auto& r : old) lifecycle_.DrainLocked(fn, r, "new generation");
  PauseIdleLocked(fn, now);
  lifecycle_.EnsureCapacityLocked(fn, now);
}

void ControlLoop::PauseIdleLocked(FunctionReplicas& fn, SteadyTime now) {
  const Deployment& d = fn.deployment;
  if (d.pause_after.count() <= 0 || !fn.queue.empty()) return;
  for (const auto& [k, r] : fn.replicas) {
    if (r->generation == d.generation && r->state == ReplicaState::kReady && r->in_flight == 0 &&
        r->pause == PauseState::kRunning && now - r->last_used >= d.pause_after &&
        now >= r->no_pause_before) {
      lifecycle_.PauseLocked(fn, r);
    }
  }
}

void ControlLoop::Sweep() {
  SteadyTime before = lifecycle_.clock().Now();
  auto running = lifecycle_.docker().ListContainers(lifecycle_.Selector(), /*all=*/false);
  if (!running) return;
  std::set<std::string> ids;
  // Paused ones are listed too: the health check, not this, judges a container that runs.
  for (const auto& c : *running) ids.insert(c.id);
  Deferred deferred;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    std::vector<std::shared_ptr<Replica>> lost;
    for (const auto& [k, r] : fn->replicas) {
      if (r->state == ReplicaState::kReady && r->ready_at < before && !r->id.empty() &&
          ids.count(r->id) == 0) {
        lost.push_back(r);
      }
    }
    for (const auto& r : lost) {
      lifecycle_.MarkDeadLocked(*fn, r, "container is not running", deferred);
    }
  }
  RunDeferred(deferred);
}

void ControlLoop::HealthCheck() {
  std::vector<std::pair<std::shared_ptr<FunctionReplicas>, std::shared_ptr<Replica>>> ready;
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    for (const auto& [k, r] : fn->replicas) {
      // A paused shim answers nothing: not a failure.
      if (r->state == ReplicaState::kReady && r->pause == PauseState::kRunning &&
          !r->endpoint.unix_socket.empty()) {
        ready.emplace_back(fn, r);
      }
    }
  }
  for (const auto& [fn, replica] : ready) {
    if (lifecycle_.stopping()) break;
    Endpoint endpoint;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      endpoint = replica->endpoint;
    }
    const auto& r = replica;
    auto healthy = lifecycle_.probe().WaitReady(
        endpoint, kHealthProbeLimit, [&] { return r->abandoned.load() || lifecycle_.stopping(); });
    Deferred deferred;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      if (healthy) {
        replica->health_strikes = 0;
      } else if (replica->state == ReplicaState::kReady && !replica->abandoned &&
                 replica->pause == PauseState::kRunning &&  // not paused during the probe
                 ++replica->health_strikes >= kHealthStrikes) {
        lifecycle_.MarkDeadLocked(*fn, replica, "health check failed: " + healthy.error().message(),
                                  deferred);
      }
    }
    RunDeferred(deferred);
  }
}

milliseconds ControlLoop::NextWait() {
  milliseconds wait = lifecycle_.options().control_interval;
  SteadyTime now = lifecycle_.clock().Now();
  for (const auto& fn : functions_.Snapshot()) {
    std::lock_guard<std::mutex> lock(fn->mu);
    for (const auto& w : fn->queue) {
      auto left = std::chrono::duration_cast<milliseconds>(w.deadline - now) + milliseconds(1);
      wait = std::max(std::min(wait, left), milliseconds(1));
    }
    // The start planner waits to see how long calls take (a past time is a stale plan).
    if (auto at = fn->demand.replan_at(); at && *at > now && !fn->queue.empty()) {
      wait = std::min(wait, std::chrono::duration_cast<milliseconds>(*at - now) + milliseconds(1));
    }
    wait = KeepAliveWaitLocked(*fn, now, wait);  // an adaptive prewarm or keep-alive end
  }
  return wait;
}

void ControlLoop::Loop() {
  for (int pass = 1;; ++pass) {
    Reconcile();
    if (pass % kSweepEveryPasses == 0) Sweep();
    if (pass % kHealthEveryPasses == 0 && !health_running_.exchange(true)) {
      if (!lifecycle_.Post([this] {
            HealthCheck();
            health_running_ = false;
          })) {
        health_running_ = false;
      }
    }
    milliseconds wait = NextWait();
    std::unique_lock<std::mutex> lock(loop_mu_);
    loop_cv_.wait_for(lock, wait, [&] { return loop_stop_ || loop_wake_; });
    loop_wake_ = false;
    if (loop_stop_) return;
  }
}

}  // namespace gantry::pool
