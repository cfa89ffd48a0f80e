#include "autoscaler/demand_estimate.h"

#include <algorithm>
#include <cmath>

namespace gantry::autoscaler {
namespace {

// Weight of the newest measurement: a few starts or calls move the estimate most of the way.
constexpr double kNewest = 0.3;

void Average(std::optional<Micros>& average, std::chrono::steady_clock::duration sample) {
  Micros measured = std::max(std::chrono::duration_cast<Micros>(sample), Micros(0));
  if (!average) {
    average = measured;
    return;
  }
  average = Micros(std::llround(kNewest * static_cast<double>(measured.count()) +
                                (1 - kNewest) * static_cast<double>(average->count())));
}

}  // namespace

void DemandEstimate::StartBegan(const std::string& replica, TimePoint at) {
  starts_[replica] = at;
}

void DemandEstimate::StartEnded(const std::string& replica, TimePoint at, bool ready) {
  auto it = starts_.find(replica);
  if (it == starts_.end()) return;
  if (ready) Average(start_latency_, at - it->second);
  starts_.erase(it);
}

void DemandEstimate::CallBegan(TimePoint at) {
  calls_.insert(at);
}

void DemandEstimate::CallEnded(TimePoint began, TimePoint at) {
  if (auto it = calls_.find(began); it != calls_.end()) calls_.erase(it);
  Average(call_duration_, at - began);
}

StartEstimates DemandEstimate::estimates() const {
  return {.start_latency = start_latency_.value_or(kDefaultStartLatency),
          .call_duration = call_duration_};
}

StartPlan DemandEstimate::Plan(StartDemand demand, const std::vector<std::string>& starting,
                               int busy_slots, TimePoint now) {
  demand.starting.clear();
  for (const auto& key : starting) {
    auto it = starts_.find(key);
    demand.starting.push_back(
        it == starts_.end() ? Micros(0) : std::chrono::duration_cast<Micros>(now - it->second));
  }
  demand.running.clear();
  for (auto it = calls_.rbegin(); it != calls_.rend() && std::ssize(demand.running) < busy_slots;
       ++it) {
    demand.running.push_back(std::chrono::duration_cast<Micros>(now - *it));
  }
  StartPlan plan = PlanStarts(demand, estimates());
  replan_at_.reset();
  if (plan.replan_in) replan_at_ = now + *plan.replan_in;
  return plan;
}

}  // namespace gantry::autoscaler
