// The predictive keep-alive policy with injected times: the idle-time histogram, the
// windows it supports (or the fixed fallback, and why) and the action at a given instant.
#include "autoscaler/keep_alive.h"

#include <catch2/catch.hpp>
#include <random>

namespace gantry::autoscaler {
namespace {

using namespace std::chrono_literals;
using Kind = KeepAliveAction::Kind;

const TimePoint kT0 = TimePoint{} + 24h;  // an arbitrary origin; only differences matter

// `n` idle times of `period` give or take up to `jitter`, from a seeded generator.
IdleHistogram Periodic(Micros period, Micros jitter, int n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> j(-jitter.count(), jitter.count());
  IdleHistogram h;
  for (int i = 0; i < n; ++i) h.Add(period + Micros(j(rng)));
  return h;
}

IdleHistogram Poisson(Micros mean, int n, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> e(1.0 / static_cast<double>(mean.count()));
  IdleHistogram h;
  for (int i = 0; i < n; ++i) h.Add(Micros(static_cast<int64_t>(e(rng))));
  return h;
}

KeepAliveSettings Fixed5m() {
  KeepAliveSettings s;
  s.idle_timeout = 5min;
  s.start_lead = 300ms;
  return s;
}

TEST_CASE("keep-alive: the histogram's bins are log-spaced, fine at seconds, and reach 4 h",
          "[keep-alive]") {
  CHECK(IdleHistogram::Range() >= 4h);
  CHECK(IdleHistogram::BinOf(0us) == 0);
  CHECK(IdleHistogram::BinOf(9ms) == 0);
  CHECK(IdleHistogram::BinOf(10ms) == 1);
  CHECK(IdleHistogram::BinOf(IdleHistogram::Range()) == IdleHistogram::kBins);
  // Every bin is non-empty and about 6% wide; a time falls in the bin whose edges hold it.
  for (int i = 1; i < IdleHistogram::kBins; ++i) {
    Micros lo = IdleHistogram::LowerEdge(i), hi = IdleHistogram::UpperEdge(i);
    REQUIRE(hi > lo);
    CHECK(static_cast<double>(hi.count()) / static_cast<double>(lo.count()) ==
          Approx(1.0595).epsilon(0.01));
    CHECK(IdleHistogram::BinOf(lo) == i);
    CHECK(IdleHistogram::BinOf(hi - 1us) == i);
  }
  // Second-scale periods are told apart.
  CHECK(IdleHistogram::BinOf(1s) != IdleHistogram::BinOf(1100ms));
  CHECK(IdleHistogram::BinOf(60s) != IdleHistogram::BinOf(64s));
}

TEST_CASE("keep-alive: the histogram counts, halves at its bound and knows out-of-range times",
          "[keep-alive]") {
  IdleHistogram h;
  h.Add(-5ms);  // as 0
  h.Add(60s);
  h.Add(8h);
  CHECK(h.count(0) == 1);
  CHECK(h.count(IdleHistogram::BinOf(60s)) == 1);
  CHECK(h.in_range() == 2);
  CHECK(h.out_of_range() == 1);
  CHECK(h.samples() == 3);

  IdleHistogram bounded;
  for (int i = 0; i < 5 * IdleHistogram::kMaxSamples; ++i) bounded.Add(i % 2 == 0 ? 30s : 2min);
  CHECK(bounded.samples() <= IdleHistogram::kMaxSamples);
  CHECK(bounded.samples() >= IdleHistogram::kMaxSamples / 2);
  CHECK(bounded.count(IdleHistogram::BinOf(30s)) == Approx(bounded.samples() / 2).margin(1));

  // A new pattern takes over once the old one has been halved away.
  for (int i = 0; i < 3 * IdleHistogram::kMaxSamples; ++i) bounded.Add(10min);
  CHECK(bounded.QuantileBin(0.05) == IdleHistogram::BinOf(10min));
}

TEST_CASE("keep-alive: the bin-count CV tells a pattern from none, whatever the scale",
          "[keep-alive]") {
  CHECK(Periodic(60s, 0s, 30).BinCountCv() == Approx(15.97).epsilon(0.01));  // one bin
  for (Micros mean : {Micros(2s), Micros(60s), Micros(30min)}) {
    CAPTURE(mean.count());
    CHECK(Poisson(mean, 200).BinCountCv() < 2.5);
    CHECK(Periodic(mean, mean / 10, 40).BinCountCv() > 6);
  }
}

TEST_CASE("keep-alive: a periodic function is prewarmed just before its period and kept shortly",
          "[keep-alive]") {
  KeepAliveSettings s = Fixed5m();
  IdleHistogram h = Periodic(60s, 1s, 36);
  KeepAliveWindows w = ComputeWindows(h, s);
  REQUIRE(w.adaptive);
  CHECK(w.fallback.empty());
  CHECK(w.samples == 36);
  // Just before the 59..61 s idle times (head less 10%), kept a little past them.
  CHECK(w.prewarm >= 48s);
  CHECK(w.prewarm < 59s);
  CHECK(w.keep > 61s);
  CHECK(w.keep <= 75s);
  CHECK(w.keep < s.idle_timeout);

  const TimePoint end = kT0;
  const TimePoint prewarm_at = end + w.prewarm - s.start_lead;
  KeepAliveAction a = DecideKeepAlive(h, s, end, end);
  CHECK(a.kind == Kind::kRetire);  // nothing is wanted after the call...
  CHECK(a.at == prewarm_at);       // ... until the start that is ready at the prewarm
  a = DecideKeepAlive(h, s, end, prewarm_at - 1ms);
  CHECK(a.kind == Kind::kRetire);
  a = DecideKeepAlive(h, s, end, prewarm_at);
  CHECK(a.kind == Kind::kPrewarm);
  CHECK(a.at == end + w.keep);
  a = DecideKeepAlive(h, s, end, end + 60s);
  CHECK(a.kind == Kind::kPrewarm);
  a = DecideKeepAlive(h, s, end, end + w.keep);
  CHECK(a.kind == Kind::kRetire);  // the call did not come: gone until the next one
  CHECK(a.at == TimePoint::max());

  CHECK(DescribeWindows(w).starts_with("adaptive: prewarm "));
  CHECK_THAT(DescribeWindows(w), Catch::EndsWith("(36 samples)"));
}

TEST_CASE("keep-alive: random (Poisson) idle times fall back to the fixed idleTimeout",
          "[keep-alive]") {
  KeepAliveSettings s = Fixed5m();
  for (Micros mean : {Micros(1s), Micros(90s), Micros(20min)}) {
    CAPTURE(mean.count());
    IdleHistogram h = Poisson(mean, 300);
    KeepAliveWindows w = ComputeWindows(h, s);
    CHECK_FALSE(w.adaptive);
    CHECK(w.keep == s.idle_timeout);
    CHECK(w.prewarm == 0s);
    CHECK_THAT(w.fallback, Catch::StartsWith("no pattern: cv "));
    // Fixed: kept for idleTimeout after the call's end, then not any more.
    KeepAliveAction a = DecideKeepAlive(h, s, kT0, kT0 + 4min);
    CHECK(a.kind == Kind::kKeep);
    CHECK(a.at == kT0 + 5min);
    CHECK(DecideKeepAlive(h, s, kT0, kT0 + 5min).kind == Kind::kRetire);
  }
}

TEST_CASE("keep-alive: too few samples fall back to the fixed idleTimeout", "[keep-alive]") {
  KeepAliveSettings s = Fixed5m();
  IdleHistogram h = Periodic(60s, 0s, 3);
  KeepAliveWindows w = ComputeWindows(h, s);
  CHECK_FALSE(w.adaptive);
  CHECK(w.keep == 5min);
  CHECK(w.fallback == "too few samples: 3");
  CHECK(DescribeWindows(w) == "adaptive: fixed 5m (too few samples: 3)");
  CHECK(DecideKeepAlive(h, s, kT0, kT0 + 1min).kind == Kind::kKeep);
  CHECK_FALSE(ComputeWindows(IdleHistogram{}, s).adaptive);
  // From min_samples on the pattern counts.
  CHECK_FALSE(ComputeWindows(Periodic(60s, 0s, 19), s).adaptive);
  CHECK(ComputeWindows(Periodic(60s, 0s, 20), s).adaptive);
}

TEST_CASE("keep-alive: too many idle times beyond the histogram's range fall back",
          "[keep-alive]") {
  KeepAliveSettings s = Fixed5m();
  IdleHistogram h = Periodic(60s, 0s, 30);
  for (int i = 0; i < 3; ++i) h.Add(8h);
  CHECK(ComputeWindows(h, s).adaptive);  // 3 of 33: within 10%
  for (int i = 0; i < 3; ++i) h.Add(10h);
  KeepAliveWindows w = ComputeWindows(h, s);  // 6 of 36
  CHECK_FALSE(w.adaptive);
  CHECK(w.keep == 5min);
  CHECK_THAT(w.fallback, Catch::StartsWith("17% idle over 6h55m"));
}

TEST_CASE("keep-alive: the windows clamp to sensible bounds", "[keep-alive]") {
  KeepAliveSettings s = Fixed5m();
  SECTION("a period of seconds: no prewarm (a restart every few seconds buys nothing)") {
    KeepAliveWindows w = ComputeWindows(Periodic(2s, 0s, 50), s);
    REQUIRE(w.adaptive);
    CHECK(w.prewarm == 0s);
    CHECK(w.keep == s.min_keep);  // 2.2 s would be shorter than the least kept
    CHECK(DescribeWindows(w) == "adaptive: keep 10s (50 samples)");
    KeepAliveAction a = DecideKeepAlive(w, s.start_lead, kT0, kT0 + 1s);
    CHECK(a.kind == Kind::kKeep);
    CHECK(a.at == kT0 + 10s);
  }
  SECTION("a long period: keep at most max_keep; beyond it, fixed") {
    s.max_keep = 5h + 30min;
    KeepAliveWindows w = ComputeWindows(Periodic(5h, 0s, 30), s);
    REQUIRE(w.adaptive);
    CHECK(w.keep == 5h + 30min);
    CHECK(w.prewarm > 4h);
    CHECK(w.prewarm < 5h);
    w = ComputeWindows(Periodic(6h, 0s, 30), s);
    CHECK_FALSE(w.adaptive);
    CHECK(w.keep == s.idle_timeout);
    CHECK(w.fallback == "idle times beyond the 5h30m limit");
  }
  SECTION("a prewarm shorter than the start begins at the call's end, not before it") {
    s.min_prewarm = 0s;
    s.start_lead = 30s;
    KeepAliveWindows w = ComputeWindows(Periodic(20s, 0s, 30), s);
    REQUIRE(w.adaptive);
    REQUIRE(w.prewarm > 0s);
    REQUIRE(w.prewarm < s.start_lead);
    KeepAliveAction a = DecideKeepAlive(w, s.start_lead, kT0, kT0);
    CHECK(a.kind == Kind::kPrewarm);
  }
}

}  // namespace
}  // namespace gantry::autoscaler
