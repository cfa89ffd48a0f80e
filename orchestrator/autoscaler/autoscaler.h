#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

// Scaling decisions as pure functions of stats, policy and time: no clock, no I/O. The
// controller feeds in-flight counts, asks for a decision and applies it.
namespace gantry::autoscaler {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;

struct Policy {
  int min_replicas = 0;
  int max_replicas = 10;
  double concurrency = 1;           // in-flight calls one replica takes (spec.concurrency)
  double target_utilization = 0.7;  // aim at 70% of it, as Knative's KPA does
  // > 0: scale on calls per second instead, this many per replica (OpenFaaS's
  // com.openfaas.scale.type=rps with .target), averaged over the same windows.
  double rps_per_replica = 0;
  Duration stable_window{60'000};
  Duration panic_window{6'000};
  // Panic when the panic window asks for at least this many times the current replicas.
  double panic_threshold = 2.0;
  // A decision removes at most 1 - 1/rate of the replicas (2: at most half).
  double max_scale_down_rate = 2.0;
  // With min_replicas 0: no replica is kept once no call came for this long.
  Duration idle_timeout{300'000};
};

// The time-weighted average of a step function (a function's in-flight calls) over sliding
// windows. Keeps `history` worth of change points. Not thread-safe.
class ConcurrencyWindow {
 public:
  explicit ConcurrencyWindow(Duration history) : history_(history) {}

  // The value is `value` from `now` on. Times must not go backwards.
  void Set(TimePoint now, double value);
  // The average over [now - window, now]; time before the first Set counts as 0.
  double Average(TimePoint now, Duration window) const;
  double current() const { return points_.empty() ? 0 : points_.back().second; }

 private:
  Duration history_;
  std::deque<std::pair<TimePoint, double>> points_;  // (since, value), oldest first
};

// Calls that arrived, counted in 100 ms buckets over sliding windows. Keeps `history` worth
// of buckets. Not thread-safe.
class RateWindow {
 public:
  explicit RateWindow(Duration history) : history_(history) {}

  // One call arrived at `now`. Times must not go backwards.
  void Add(TimePoint now);
  // Calls per second over [now - window, now] (whole buckets).
  double Rate(TimePoint now, Duration window) const;

 private:
  Duration history_;
  std::deque<std::pair<TimePoint, std::int64_t>> buckets_;  // (bucket start, calls)
};

struct Decision {
  int desired = 0;
  bool panic = false;
  std::string reason;  // for logs and `gantry describe`
};

// A Knative-KPA-style autoscaler for one function: desired replicas from the average
// in-flight concurrency over a stable window (60 s), or over a panic window (6 s) when load
// jumps; never scales down while panicking; scales down at most by half per decision;
// scales to zero only after idle_timeout without a call; clamps to [min, max]. Holds only
// its panic state. Not thread-safe.
class Autoscaler {
 public:
  explicit Autoscaler(Policy policy) : policy_(policy) {}

  // `current` is the number of replicas there are (ready or starting); `last_call` the time
  // of the last call, if any; `arrivals` the calls' arrivals (used with rps_per_replica).
  Decision Decide(const ConcurrencyWindow& stats, int current, TimePoint now,
                  std::optional<TimePoint> last_call, const RateWindow* arrivals = nullptr);

  const Policy& policy() const { return policy_; }

 private:
  Policy policy_;
  std::optional<TimePoint> panic_since_;
  int panic_high_water_ = 0;
};

}  // namespace gantry::autoscaler
