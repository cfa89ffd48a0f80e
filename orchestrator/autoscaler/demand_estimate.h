#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "autoscaler/start_planner.h"

namespace gantry::autoscaler {

// What the pool learns about one function to plan its starts: how long its starts take
// and how long its calls take (moving averages of the measured ones), the calls in flight
// and the starts in progress, and when the last plan asked to be made again. The pool
// reports each start and call as it begins and ends, and asks Plan() whenever calls wait.
// Times come from the caller (no clock here). Not thread-safe: the pool keeps one per
// function (FunctionReplicas::demand), guarded by that function's lock.
class DemandEstimate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // A replica (by the pool's key) was asked for at `at`.
  void StartBegan(const std::string& replica, TimePoint at);
  // Its start ended at `at`: ready (`ready`, which is measured) or failed or given up.
  // Unknown replicas are ignored.
  void StartEnded(const std::string& replica, TimePoint at, bool ready);
  // A call got a slot at `at`.
  void CallBegan(TimePoint at);
  // The call that began at `began` gave its slot back at `at` (measured). A call not
  // reported to CallBegan (the estimate was made after it began) is only measured.
  void CallEnded(TimePoint began, TimePoint at);

  // PlanStarts over `demand`, filled in with what is known here: the start estimates,
  // each starting replica's elapsed time (for `starting`, the keys of the replicas still
  // starting), and the ages of the youngest `busy_slots` calls in flight (calls on
  // draining replicas are the older ones). Remembers when to plan again (replan_at).
  StartPlan Plan(StartDemand demand, const std::vector<std::string>& starting, int busy_slots,
                 TimePoint now);
  // When the last Plan asked to be planned again, if it did and nothing planned since.
  std::optional<TimePoint> replan_at() const { return replan_at_; }

  StartEstimates estimates() const;

 private:
  std::optional<Micros> start_latency_;  // moving averages
  std::optional<Micros> call_duration_;
  std::map<std::string, TimePoint> starts_;  // replica key -> asked for at
  std::multiset<TimePoint> calls_;           // when each call in flight began
  std::optional<TimePoint> replan_at_;
};

}  // namespace gantry::autoscaler
