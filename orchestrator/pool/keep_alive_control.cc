#include "pool/keep_alive_control.h"

#include <fmt/format.h>

#include <algorithm>

#include "pool/function_replicas.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool {
namespace {

using autoscaler::KeepAliveAction;
using core::SteadyTime;
using std::chrono::milliseconds;

// The action now for an idle adaptive function with a pattern; nullopt otherwise (the
// pool's fixed keep-alive applies).
struct InForce {
  autoscaler::KeepAliveWindows windows;
  KeepAliveAction action;
};

std::optional<InForce> AdaptiveLocked(const FunctionReplicas& fn, SteadyTime now) {
  if (fn.deployment.keep_alive != KeepAlive::kAdaptive || !fn.idle_since) return std::nullopt;
  autoscaler::KeepAliveSettings settings = KeepAliveSettingsLocked(fn);
  autoscaler::KeepAliveWindows windows = autoscaler::ComputeWindows(fn.idle_times, settings);
  if (!windows.adaptive) return std::nullopt;
  KeepAliveAction action =
      autoscaler::DecideKeepAlive(windows, settings.start_lead, *fn.idle_since, now);
  return InForce{std::move(windows), action};
}

// The prewarm of a function whose scale.min kept a replica paused: unpaused (~15 ms)
// rather than one more started, unless one is running or coming already. Replicas running
// in the prewarm window are not paused again before its end (no pause/unpause flapping
// while the predicted call is due).
void PrewarmPausedLocked(ReplicaLifecycle& lifecycle, FunctionReplicas& fn, SteadyTime until) {
  std::shared_ptr<Replica> paused;
  bool running = false;
  for (const auto& [k, r] : fn.replicas) {
    if (r->state != ReplicaState::kReady || r->abandoned ||
        r->generation != fn.deployment.generation) {
      continue;
    }
    if (r->pause == PauseState::kRunning || r->pause == PauseState::kUnpausing ||
        (r->pause == PauseState::kPausing && r->unpause_wanted)) {
      running = true;
      r->no_pause_before = std::max(r->no_pause_before, until);
    } else if (!paused || r->last_used > paused->last_used) {
      paused = r;
    }
  }
  if (running || !paused) return;
  lifecycle.UnpauseLocked(fn, paused);
  paused->no_pause_before = std::max(paused->no_pause_before, until);
}

}  // namespace

autoscaler::KeepAliveSettings KeepAliveSettingsLocked(const FunctionReplicas& fn) {
  autoscaler::KeepAliveSettings s;
  s.idle_timeout = fn.deployment.idle_timeout;
  s.start_lead = fn.demand.estimates().start_latency;
  return s;
}

milliseconds ApplyKeepAliveLocked(ReplicaLifecycle& lifecycle, FunctionReplicas& fn, SteadyTime now,
                                  autoscaler::Decision& decision) {
  const Deployment& d = fn.deployment;
  std::optional<InForce> adaptive = AdaptiveLocked(fn, now);
  if (!adaptive) return d.idle_timeout;
  const int most = std::max(d.min_replicas, d.max_replicas);
  auto in = [&](SteadyTime at) { return std::chrono::duration<double>(at - now).count(); };
  switch (adaptive->action.kind) {
    case KeepAliveAction::Kind::kRetire:
      decision.desired = d.min_replicas;
      decision.reason += adaptive->action.at == SteadyTime::max()
                             ? "; keep-alive: none until the next call"
                             : fmt::format("; keep-alive: none until the prewarm in {:.1f}s",
                                           in(adaptive->action.at));
      return milliseconds(0);
    case KeepAliveAction::Kind::kKeep:
      decision.desired = std::clamp(std::max(decision.desired, std::min(fn.ActiveLocked(), 1)),
                                    d.min_replicas, most);
      decision.reason += fmt::format("; keep-alive: kept {:.1f}s more", in(adaptive->action.at));
      break;
    case KeepAliveAction::Kind::kPrewarm:
      decision.desired = std::clamp(std::max(decision.desired, 1), d.min_replicas, most);
      PrewarmPausedLocked(lifecycle, fn, adaptive->action.at);
      decision.reason +=
          fmt::format("; keep-alive: prewarmed, kept {:.1f}s more", in(adaptive->action.at));
      break;
  }
  return std::chrono::duration_cast<milliseconds>(adaptive->windows.keep);
}

milliseconds KeepAliveWaitLocked(const FunctionReplicas& fn, SteadyTime now, milliseconds wait) {
  std::optional<InForce> adaptive = AdaptiveLocked(fn, now);
  if (!adaptive || adaptive->action.at == SteadyTime::max() || adaptive->action.at <= now) {
    return wait;
  }
  auto left = std::chrono::duration_cast<milliseconds>(adaptive->action.at - now) + milliseconds(1);
  return std::max(std::min(wait, left), milliseconds(1));
}

std::string KeepAliveSummaryLocked(const FunctionReplicas& fn) {
  if (fn.deployment.keep_alive != KeepAlive::kAdaptive) return "";
  return autoscaler::DescribeWindows(
      autoscaler::ComputeWindows(fn.idle_times, KeepAliveSettingsLocked(fn)));
}

}  // namespace gantry::pool
