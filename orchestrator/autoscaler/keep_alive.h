#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

// Predictive keep-alive (spec.scale.keepAlive: adaptive), after "Serverless in the Wild"
// (Shahrad et al., USENIX ATC '20): a function's idle times between calls, kept in a
// histogram, predict when its next call comes, so an idle replica need not be kept until
// then and one can be prewarmed just before. Pure functions of the histogram, the settings
// and the time: no clock, no I/O. The pool (pool/keep_alive_control.h) and
// bench/keepalive-sim run this same code.
namespace gantry::autoscaler {

using TimePoint = std::chrono::steady_clock::time_point;
using Micros = std::chrono::microseconds;

// A function's idle times (the end of one call to the arrival of the next, nothing running
// in between) in log-spaced bins: bin 0 is [0, 10 ms), bin i >= 1 is
// [10 ms * 2^((i-1)/12), 10 ms * 2^(i/12)) — twelve bins per octave, so every bin is ~6%
// wide whatever the scale (a 1 s period is told from 1.06 s, a 1 h one from 1 h 4 min),
// and a distribution's shape (and so the coefficient of variation of the bin counts) does
// not depend on its scale: a Poisson function called every second looks like one called
// every hour, only shifted. 256 bins reach ~6.9 h (at least the paper's 4 h); longer idle
// times are counted as out of range. Memory is fixed (~1 KiB). Once kMaxSamples were
// counted, every count is halved (rounded down), so old behaviour fades out and recent
// idle times weigh at least half. Not thread-safe (the pool guards it with the
// function's lock).
class IdleHistogram {
 public:
  static constexpr int kBins = 256;
  static constexpr int kBinsPerOctave = 12;
  static constexpr Micros kFirstEdge{10'000};  // the upper edge of bin 0
  static constexpr int64_t kMaxSamples = 1'000;

  // Counts one idle time (negative counts as 0).
  void Add(Micros idle);

  int64_t samples() const { return in_range_ + out_of_range_; }
  int64_t in_range() const { return in_range_; }
  int64_t out_of_range() const { return out_of_range_; }  // longer than Range()
  int64_t count(int bin) const { return counts_.at(static_cast<size_t>(bin)); }

  // The bin an idle time falls in; kBins when out of range.
  static int BinOf(Micros idle);
  static Micros LowerEdge(int bin);  // 0 for bin 0
  static Micros UpperEdge(int bin);  // exclusive
  static Micros Range() { return UpperEdge(kBins - 1); }

  // The bin holding the q-quantile (0 < q <= 1) of the in-range idle times: the first bin
  // where the running count reaches ceil(q * in_range()). -1 when nothing is in range.
  int QuantileBin(double q) const;
  // The coefficient of variation (standard deviation / mean) of the kBins bin counts: 0
  // when every bin holds the same, sqrt(kBins - 1) ~ 16 when one bin holds them all. A
  // pattern (idle times that repeat) piles into a few bins; no pattern spreads out.
  // 0 when nothing is in range.
  double BinCountCv() const;

 private:
  void Halve();

  std::array<int32_t, kBins> counts_{};  // each at most kMaxSamples
  int64_t in_range_ = 0;
  int64_t out_of_range_ = 0;
  int64_t sum_squares_ = 0;  // of counts_, kept as counts change: BinCountCv is O(1)
  int lowest_ = kBins;       // the lowest and highest non-empty bins: quantile scans
  int highest_ = -1;         // stay within them
};

// How the windows are derived (defaults: the paper's, with a scale-free histogram).
struct KeepAliveSettings {
  // The fixed keep-alive (spec.scale.idleTimeout): what the policy falls back to.
  Micros idle_timeout{300'000'000};
  int64_t min_samples = 20;        // fewer idle times seen: fixed
  double max_out_of_range = 0.10;  // a larger share of idle times beyond Range(): fixed
  double min_cv = 3.5;             // idle times spread more evenly (no pattern): fixed
  double head_quantile = 0.05;     // the prewarm window is this quantile's bin's lower edge
  double tail_quantile = 0.99;     // the keep window is this quantile's bin's upper edge
  double margin = 0.10;            // ... less, respectively plus, this share
  // A prewarm window shorter than this is 0: removing a replica only to start another
  // within seconds saves little memory for a start's CPU and risk.
  Micros min_prewarm{10'000'000};
  // The keep window is at least this, and at least this beyond the prewarm window.
  Micros min_keep{10'000'000};
  Micros max_keep = IdleHistogram::Range();
  // How long before the predicted call a prewarm starts: the expected start time (the
  // pool's measured start latency).
  Micros start_lead{300'000};
};

// The keep-alive in force, both windows counted from the end of the last call.
struct KeepAliveWindows {
  bool adaptive = false;  // false: the fixed idle_timeout (too few samples, no pattern, ...)
  Micros prewarm{0};      // no replica is needed before this; 0: kept from the call's end
  Micros keep{0};         // a replica is kept until this (fixed: idle_timeout)
  int64_t samples = 0;
  std::string fallback;  // why not adaptive: "too few samples: 3", "no pattern (cv 1.4)"
};

// The windows the histogram supports: with at least min_samples idle times, at most
// max_out_of_range of them out of range, and a bin-count CV of at least min_cv,
// prewarm = LowerEdge(head bin) * (1 - margin) (0 when under min_prewarm) and
// keep = UpperEdge(tail bin) * (1 + margin), clamped to [max(min_keep, prewarm +
// min_keep), max_keep]; otherwise (also when the tail bin ends beyond max_keep: the window
// would miss those calls) the fixed window: adaptive false, keep = idle_timeout, fallback
// says why.
KeepAliveWindows ComputeWindows(const IdleHistogram& histogram, const KeepAliveSettings& settings);

// "adaptive: prewarm 4m50s, keep 5m30s (36 samples)", "adaptive: keep 12s (40 samples)",
// or "adaptive: fixed 5m (too few samples: 3)": what `gantry describe` shows.
std::string DescribeWindows(const KeepAliveWindows& windows);

// What to do with a function that is idle (no call in flight or waiting) since `last_end`.
struct KeepAliveAction {
  enum class Kind {
    kKeep,     // keep the replicas there are (start none) until `at`
    kRetire,   // no replica is wanted until `at` (the prewarm; TimePoint::max(): none)
    kPrewarm,  // one replica is wanted now (start one if there is none) until `at`
  };
  Kind kind = Kind::kKeep;
  TimePoint at{};
};

// The action at `now` (>= last_end) under `windows`: fixed, or prewarm 0 — kKeep until
// last_end + keep, then kRetire for good; with a prewarm window — kRetire until
// last_end + prewarm - start_lead (never before last_end), then kPrewarm until
// last_end + keep, then kRetire for good.
KeepAliveAction DecideKeepAlive(const KeepAliveWindows& windows, Micros start_lead,
                                TimePoint last_end, TimePoint now);

// Both at once: DecideKeepAlive(ComputeWindows(histogram, settings), settings.start_lead, ...).
KeepAliveAction DecideKeepAlive(const IdleHistogram& histogram, const KeepAliveSettings& settings,
                                TimePoint last_end, TimePoint now);

}  // namespace gantry::autoscaler
