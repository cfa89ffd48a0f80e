#pragma once

#include <chrono>
#include <string>

#include "autoscaler/autoscaler.h"
#include "autoscaler/keep_alive.h"
#include "core/clock.h"

namespace gantry::pool {

class FunctionReplicas;
class ReplicaLifecycle;

// keepAlive: adaptive in the pool: the control pass asks the keep-alive policy
// (autoscaler/keep_alive.h) with the function's idle times (FunctionReplicas::idle_times,
// counted for every function as calls arrive, kept in memory only: a restarted gantryd
// learns them again) instead of keeping an idle replica for idle_timeout. Only while the
// function is idle (FunctionReplicas::idle_since: no call in flight or waiting) and the
// policy has a pattern; otherwise, and for keepAlive: fixed, the pool keeps replicas as it
// always did. All of it needs fn.mu held and is memory only.

// The policy's settings for fn: the fixed window its idle_timeout, the prewarm led by its
// measured start latency (DemandEstimate).
autoscaler::KeepAliveSettings KeepAliveSettingsLocked(const FunctionReplicas& fn);

// The control pass's keep-alive for fn, after the autoscaler's `decision`: for an idle
// adaptive function with a pattern it sets decision.desired — scale.min while the policy
// wants no replica (the function scales to zero between predicted calls), at least 1 from
// the prewarm on (the pass then starts one, within scale.max and the start back-off; a
// paused replica is unpaused instead, and none is paused again before the window ends),
// the replicas there are (at most 1 beyond scale.min) while kept — and returns how long a
// replica must have been idle to be removed (0 while none is wanted, the keep window
// otherwise). Anything else: decision untouched, returns the deployment's idle_timeout.
std::chrono::milliseconds ApplyKeepAliveLocked(ReplicaLifecycle& lifecycle, FunctionReplicas& fn,
                                               core::SteadyTime now,
                                               autoscaler::Decision& decision);

// `wait`, or less when fn's keep-alive changes sooner (its prewarm begins, its keep window
// ends): how long the control loop may sleep for fn. At least 1 ms.
std::chrono::milliseconds KeepAliveWaitLocked(const FunctionReplicas& fn, core::SteadyTime now,
                                              std::chrono::milliseconds wait);

// The keep-alive in force for `gantry describe` (autoscaler::DescribeWindows): "adaptive:
// prewarm 54s, keep 1m7s (36 samples)" or "adaptive: fixed 5m (too few samples: 3)";
// empty for keepAlive: fixed.
std::string KeepAliveSummaryLocked(const FunctionReplicas& fn);

}  // namespace gantry::pool
