#include "autoscaler/keep_alive.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace gantry::autoscaler {
namespace {

// The upper edge of every bin, in microseconds, computed once: both BinOf and the edges
// read this one table, so a time and its bin always agree.
const std::array<int64_t, IdleHistogram::kBins>& UpperEdges() {
  static const std::array<int64_t, IdleHistogram::kBins> kEdges = [] {
    std::array<int64_t, IdleHistogram::kBins> e{};
    const auto first = static_cast<double>(IdleHistogram::kFirstEdge.count());
    for (size_t i = 0; i < e.size(); ++i) {
      e[i] = std::llround(first * std::exp2(static_cast<double>(i) /
                                            static_cast<double>(IdleHistogram::kBinsPerOctave)));
    }
    return e;
  }();
  return kEdges;
}

Micros Scaled(Micros d, double factor) {
  return Micros(std::llround(static_cast<double>(d.count()) * factor));
}

// "450ms", "12s", "4m50s", "1h2m": whole seconds from a second on.
std::string FormatSpan(Micros d) {
  if (d < Micros(1'000'000)) return fmt::format("{}ms", d.count() / 1'000);
  int64_t s = (d.count() + 500'000) / 1'000'000;
  std::string out;
  if (s >= 3'600) out += fmt::format("{}h", s / 3'600);
  if (s % 3'600 >= 60) out += fmt::format("{}m", s % 3'600 / 60);
  if (s % 60 != 0 || out.empty()) out += fmt::format("{}s", s % 60);
  return out;
}

}  // namespace

int IdleHistogram::BinOf(Micros idle) {
  const auto& edges = UpperEdges();
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), idle.count()) -
                          edges.begin());
}

Micros IdleHistogram::LowerEdge(int bin) {
  return bin <= 0 ? Micros(0) : UpperEdge(bin - 1);
}

Micros IdleHistogram::UpperEdge(int bin) {
  return Micros(UpperEdges().at(static_cast<size_t>(std::clamp(bin, 0, kBins - 1))));
}

void IdleHistogram::Add(Micros idle) {
  if (samples() >= kMaxSamples) Halve();
  int bin = BinOf(std::max(idle, Micros(0)));
  if (bin >= kBins) {
    ++out_of_range_;
    return;
  }
  int32_t& c = counts_.at(static_cast<size_t>(bin));
  sum_squares_ += 2 * int64_t{c} + 1;  // (c + 1)^2 - c^2
  ++c;
  ++in_range_;
  lowest_ = std::min(lowest_, bin);
  highest_ = std::max(highest_, bin);
}

void IdleHistogram::Halve() {
  in_range_ = 0;
  sum_squares_ = 0;
  lowest_ = kBins;
  highest_ = -1;
  for (int i = 0; i < kBins; ++i) {
    int32_t& c = counts_.at(static_cast<size_t>(i));
    c /= 2;
    in_range_ += c;
    sum_squares_ += int64_t{c} * c;
    if (c > 0) {
      lowest_ = std::min(lowest_, i);
      highest_ = std::max(highest_, i);
    }
  }
  out_of_range_ /= 2;
}

int IdleHistogram::QuantileBin(double q) const {
  if (in_range_ == 0) return -1;
  auto target = static_cast<int64_t>(std::ceil(q * static_cast<double>(in_range_) - 1e-9));
  target = std::clamp<int64_t>(target, 1, in_range_);
  int64_t seen = 0;
  for (int i = lowest_; i <= highest_; ++i) {
    seen += counts_.at(static_cast<size_t>(i));
    if (seen >= target) return i;
  }
  return highest_;
}

// Of the bins' probabilities p_i rather than of the raw counts: with few samples the raw
// counts' CV is mostly sampling noise (10 Poisson idle times already look concentrated).
// For multinomial counts E[sum c_i^2] = n + n(n-1) sum p_i^2, so sum p_i^2 is estimated
// without bias as (sum c_i^2 - n) / (n(n-1)), and CV^2 = kBins * sum p_i^2 - 1.
double IdleHistogram::BinCountCv() const {
  if (in_range_ < 2) return 0;
  const auto n = static_cast<double>(in_range_);
  double sum_p2 = (static_cast<double>(sum_squares_) - n) / (n * (n - 1));
  return std::sqrt(std::max(kBins * sum_p2 - 1, 0.0));
}

KeepAliveWindows ComputeWindows(const IdleHistogram& h, const KeepAliveSettings& s) {
  KeepAliveWindows w;
  w.samples = h.samples();
  w.keep = s.idle_timeout;
  if (h.samples() < s.min_samples || h.in_range() == 0) {
    w.fallback = fmt::format("too few samples: {}", h.samples());
    return w;
  }
  double out = static_cast<double>(h.out_of_range()) / static_cast<double>(h.samples());
  if (out > s.max_out_of_range) {
    w.fallback = fmt::format("{:.0f}% idle over {}", out * 100, FormatSpan(IdleHistogram::Range()));
    return w;
  }
  if (double cv = h.BinCountCv(); cv < s.min_cv) {
    w.fallback = fmt::format("no pattern: cv {:.1f}", cv);
    return w;
  }
  Micros head = IdleHistogram::LowerEdge(h.QuantileBin(s.head_quantile));
  Micros tail = IdleHistogram::UpperEdge(h.QuantileBin(s.tail_quantile));
  Micros prewarm = Scaled(head, 1 - s.margin);
  if (prewarm < s.min_prewarm) prewarm = Micros(0);
  Micros keep = std::max(Scaled(tail, 1 + s.margin), s.min_keep);
  if (prewarm > Micros(0)) keep = std::max(keep, prewarm + s.min_keep);
  keep = std::min(keep, s.max_keep);
  if (tail > s.max_keep) {
    // Calls come after the longest keep allowed: the window would miss them.
    w.keep = s.idle_timeout;
    w.fallback = fmt::format("idle times beyond the {} limit", FormatSpan(s.max_keep));
    return w;
  }
  w.adaptive = true;
  w.prewarm = prewarm;
  w.keep = keep;
  return w;
}

std::string DescribeWindows(const KeepAliveWindows& w) {
  if (!w.adaptive) return fmt::format("adaptive: fixed {} ({})", FormatSpan(w.keep), w.fallback);
  if (w.prewarm > Micros(0)) {
    return fmt::format("adaptive: prewarm {}, keep {} ({} samples)", FormatSpan(w.prewarm),
                       FormatSpan(w.keep), w.samples);
  }
  return fmt::format("adaptive: keep {} ({} samples)", FormatSpan(w.keep), w.samples);
}

KeepAliveAction DecideKeepAlive(const KeepAliveWindows& w, Micros start_lead, TimePoint last_end,
                                TimePoint now) {
  using Kind = KeepAliveAction::Kind;
  const TimePoint keep_end = last_end + w.keep;
  const TimePoint never = TimePoint::max();
  if (!w.adaptive || w.prewarm <= Micros(0)) {
    return now < keep_end ? KeepAliveAction{Kind::kKeep, keep_end}
                          : KeepAliveAction{Kind::kRetire, never};
  }
  const TimePoint prewarm_at = last_end + std::max(w.prewarm - start_lead, Micros(0));
  if (now < prewarm_at) return {Kind::kRetire, prewarm_at};
  if (now < keep_end) return {Kind::kPrewarm, keep_end};
  return {Kind::kRetire, never};
}

KeepAliveAction DecideKeepAlive(const IdleHistogram& histogram, const KeepAliveSettings& settings,
                                TimePoint last_end, TimePoint now) {
  return DecideKeepAlive(ComputeWindows(histogram, settings), settings.start_lead, last_end, now);
}

}  // namespace gantry::autoscaler
