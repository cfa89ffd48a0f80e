#include "autoscaler/autoscaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace gantry::autoscaler {
namespace {

using Seconds = std::chrono::duration<double>;

int CeilDiv(double value, double per) {
  return static_cast<int>(std::ceil(value / per - 1e-9));
}

}  // namespace

void ConcurrencyWindow::Set(TimePoint now, double value) {
  if (!points_.empty() && points_.back().first >= now) {
    points_.back().second = value;  // same instant: the last word counts
  } else {
    points_.emplace_back(now, value);
  }
  // Drop change points that ended before the history began (keep the one spanning it).
  while (points_.size() > 1 && points_[1].first <= now - history_) points_.pop_front();
}

double ConcurrencyWindow::Average(TimePoint now, Duration window) const {
  if (window.count() <= 0) return current();
  TimePoint start = now - window;
  double integral = 0;
  for (std::size_t i = 0; i < points_.size(); ++i) {
    TimePoint from = std::max(points_[i].first, start);
    TimePoint to = i + 1 < points_.size() ? std::min(points_[i + 1].first, now) : now;
    if (to > from) integral += points_[i].second * Seconds(to - from).count();
  }
  return integral / Seconds(window).count();
}

void RateWindow::Add(TimePoint now) {
  constexpr Duration kBucket{100};
  if (buckets_.empty() || now - buckets_.back().first >= kBucket) {
    buckets_.emplace_back(now, 0);
  }
  ++buckets_.back().second;
  while (!buckets_.empty() && buckets_.front().first < now - history_) buckets_.pop_front();
}

double RateWindow::Rate(TimePoint now, Duration window) const {
  if (window.count() <= 0) return 0;
  std::int64_t calls = 0;
  for (auto it = buckets_.rbegin(); it != buckets_.rend() && it->first >= now - window; ++it) {
    calls += it->second;
  }
  return static_cast<double>(calls) / Seconds(window).count();
}

Decision Autoscaler::Decide(const ConcurrencyWindow& stats, int current, TimePoint now,
                            std::optional<TimePoint> last_call, const RateWindow* arrivals) {
  const Policy& p = policy_;
  const bool rps = p.rps_per_replica > 0 && arrivals != nullptr;
  double target = rps ? p.rps_per_replica : std::max(p.concurrency * p.target_utilization, 0.01);
  double stable_avg =
      rps ? arrivals->Rate(now, p.stable_window) : stats.Average(now, p.stable_window);
  double panic_avg = rps ? arrivals->Rate(now, p.panic_window) : stats.Average(now, p.panic_window);
  const char* what = rps ? "calls/s" : "in flight";
  int want_stable = CeilDiv(stable_avg, target);
  int want_panic = CeilDiv(panic_avg, target);

  Decision d;
  bool over = current > 0 && want_panic >= p.panic_threshold * current;
  if (over) {
    if (!panic_since_) panic_high_water_ = current;
    panic_since_ = now;  // panic lasts a stable window past the last time it was over
  } else if (panic_since_ && now - *panic_since_ >= p.stable_window) {
    panic_since_.reset();
  }
  if (panic_since_) {
    panic_high_water_ = std::max({panic_high_water_, want_panic, current});
    d.desired = panic_high_water_;
    d.panic = true;
    d.reason = fmt::format("panic: {:.2f} {} over {}s, target {:.2f} per replica", panic_avg, what,
                           Seconds(p.panic_window).count(), target);
  } else {
    d.desired = want_stable;
    d.reason = fmt::format("stable: {:.2f} {} over {}s, target {:.2f} per replica", stable_avg,
                           what, Seconds(p.stable_window).count(), target);
    int floor_after_scale_down = static_cast<int>(std::floor(current / p.max_scale_down_rate));
    if (d.desired < floor_after_scale_down) {
      d.desired = floor_after_scale_down;
      d.reason += fmt::format("; scale-down limited to {}", floor_after_scale_down);
    }
  }

  // Keep-alive: a replica stays idle_timeout after the last call (or while calls run).
  bool recently_called = last_call && now - *last_call < p.idle_timeout;
  if (d.desired == 0 && current > 0 && (recently_called || stats.current() > 0)) {
    d.desired = 1;
    d.reason += "; kept warm until idle";
  }
  int clamped = std::clamp(d.desired, p.min_replicas, std::max(p.min_replicas, p.max_replicas));
  if (clamped != d.desired)
    d.reason += fmt::format("; clamped to [{}, {}]", p.min_replicas, p.max_replicas);
  d.desired = clamped;
  return d;
}

}  // namespace gantry::autoscaler
