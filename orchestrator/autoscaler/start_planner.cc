#include "autoscaler/start_planner.h"

#include <algorithm>
#include <cstdint>

namespace gantry::autoscaler {
namespace {

constexpr Micros kMinSpan{1'000};  // estimates below 1 ms count as 1 ms (no division by 0)

int64_t CeilDiv(int64_t value, int64_t per) {
  return value <= 0 ? 0 : (value + per - 1) / per;
}

// How much longer something that has taken `elapsed` of an expected `expected` will take:
// the rest, or once it is late, as long again (the longer it has run, the longer it runs).
Micros Remaining(Micros elapsed, Micros expected) {
  return elapsed < expected ? expected - elapsed : std::max(elapsed, kMinSpan);
}

// Calls one slot that is free after `free_in` takes in [now, now + horizon).
int64_t Takes(Micros free_in, Micros horizon, Micros call) {
  return free_in < horizon ? CeilDiv((horizon - free_in).count(), call.count()) : 0;
}

}  // namespace

StartPlan PlanStarts(const StartDemand& d, const StartEstimates& e) {
  StartPlan plan;
  const int per = std::max(d.concurrency, 1);
  const int64_t coming = d.free_slots + int64_t{per} * static_cast<int64_t>(d.starting.size());
  const int64_t most = std::min<int64_t>(CeilDiv(d.waiting - coming, per), std::max(d.room, 0));
  if (most <= 0) return plan;

  const Micros start = std::max(e.start_latency, kMinSpan);
  const Micros oldest =
      d.running.empty() ? Micros(0) : *std::max_element(d.running.begin(), d.running.end());
  std::optional<Micros> call = e.call_duration;
  if (call || oldest >= start) call = std::max({call.value_or(oldest), oldest, kMinSpan});

  if (!call) {
    if (d.free_slots == 0 && d.running.empty() && d.starting.empty()) {
      plan.start = 1;
    } else if (!d.running.empty()) {
      plan.replan_in = start - oldest;
    }
    return plan;
  }

  const Micros horizon = 2 * start;
  int64_t taken = int64_t{d.free_slots} * Takes(Micros(0), horizon, *call);
  for (Micros age : d.running) taken += Takes(Remaining(age, *call), horizon, *call);
  for (Micros elapsed : d.starting) {
    taken += per * Takes(Remaining(elapsed, start), horizon, *call);
  }
  const int64_t short_by = d.waiting - taken;
  const int64_t per_new = per * Takes(start, horizon, *call);
  plan.start = static_cast<int>(std::min(CeilDiv(short_by, per_new), most));
  return plan;
}

}  // namespace gantry::autoscaler
