// bench/keepalive-sim: replays a seeded synthetic workload shaped like the Azure Functions
// trace (Shahrad et al., "Serverless in the Wild", USENIX ATC '20) through the pool's
// keep-alive policy (autoscaler/keep_alive.h: the same IdleHistogram, ComputeWindows and
// DecideKeepAlive gantryd runs) with simulated time, one replica per function, and prints
// cold starts and idle replica memory for a fixed 10-minute keep-alive vs adaptive.
//
// The workload (every parameter printed with the results):
//  - `functions` functions (default 240) over `days` simulated days (default 4), seed `seed`
//    (default 14): 40% Poisson, 30% periodic timers, 30% bursty;
//  - Poisson: rate log-uniform from one call a day to 20 a second (6.2 orders of magnitude,
//    as the trace's per-function rates spread over ~8);
//  - timers: every 1, 5, 15, 30 or 60 minutes (uniformly), a third on the dot, a third
//    +-2 s of jitter, a third +-10% of the period (calls late or early, not drifting);
//  - bursty (on/off): bursts of log-uniform 10 s..2 min of Poisson calls at log-uniform
//    0.2..5 per second, separated by exponential off times of mean log-uniform 10 min..4 h;
//  - a call runs the function's mean duration (log-uniform 20 ms..2 s) times U(0.5, 1.5);
//    a replica holds 128, 256, 512 or 1024 MiB (uniformly);
//  - a start takes 300 ms (the pool's default start estimate, also the prewarm's lead).
// One replica per function: a call arriving with no live (ready) replica is a cold start
// and waits for one; calls that overlap share it. Idle replica memory counts the time a
// replica is live (or starting for a prewarm) and runs no call, times its memory. The
// histogram learns each idle time when the next call arrives, as the pool does; the pool
// acts within its control interval (1 s, and it wakes for a prewarm), the simulation at
// the exact instant.
//
//   keepalive-sim [--seed N] [--days N] [--functions N]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "autoscaler/keep_alive.h"

namespace {

using gantry::autoscaler::ComputeWindows;
using gantry::autoscaler::DecideKeepAlive;
using gantry::autoscaler::IdleHistogram;
using gantry::autoscaler::KeepAliveAction;
using gantry::autoscaler::KeepAliveSettings;
using gantry::autoscaler::KeepAliveWindows;
using gantry::autoscaler::Micros;
using gantry::autoscaler::TimePoint;

constexpr double kStartSeconds = 0.3;
constexpr double kFixedKeepSeconds = 600;
constexpr double kDay = 86'400;

enum class Kind { kPoisson, kTimer, kBursty };
constexpr std::array<const char*, 3> kKindNames{"poisson", "timer", "bursty"};

double LogUniform(std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  return std::exp(u(rng));
}

// One function's calls, generated as the simulation asks for the next.
class Workload {
 public:
  Workload(Kind kind, uint64_t seed) : kind_(kind), rng_(seed) {
    std::uniform_int_distribution<int> pick(0, 3);
    memory_mib_ = 128 << pick(rng_);
    mean_duration_ = LogUniform(rng_, 0.02, 2);
    switch (kind_) {
      case Kind::kPoisson:
        rate_ = LogUniform(rng_, 1 / kDay, 20);
        break;
      case Kind::kTimer: {
        constexpr std::array<double, 5> kMinutes{1, 5, 15, 30, 60};
        period_ = 60 * kMinutes.at(std::uniform_int_distribution<size_t>(0, 4)(rng_));
        int style = std::uniform_int_distribution<int>(0, 2)(rng_);
        jitter_ = style == 0 ? 0 : style == 1 ? 2 : period_ / 10;
        offset_ = std::uniform_real_distribution<double>(0, period_)(rng_);
        break;
      }
      case Kind::kBursty:
        burst_length_ = LogUniform(rng_, 10, 120);
        rate_ = LogUniform(rng_, 0.2, 5);
        off_mean_ = LogUniform(rng_, 600, 4 * 3'600);
        burst_end_ = -1;
        break;
    }
  }

  // The arrival after `t` (the previous one).
  double Next(double t) {
    switch (kind_) {
      case Kind::kPoisson:
        return t + std::exponential_distribution<double>(rate_)(rng_);
      case Kind::kTimer: {
        double at = offset_ + period_ * static_cast<double>(tick_++);
        if (jitter_ > 0) at += std::uniform_real_distribution<double>(-jitter_, jitter_)(rng_);
        return std::max(at, t);
      }
      case Kind::kBursty: {
        if (t < burst_end_) {
          double next = t + std::exponential_distribution<double>(rate_)(rng_);
          if (next < burst_end_) return next;
        }
        double start =
            std::max(t, burst_end_) + std::exponential_distribution<double>(1 / off_mean_)(rng_);
        burst_end_ = start + burst_length_ * std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
        return start;
      }
    }
    return t;
  }

  double Duration() {
    return mean_duration_ * std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
  }

  Kind kind() const { return kind_; }
  int memory_mib() const { return memory_mib_; }

 private:
  Kind kind_;
  std::mt19937_64 rng_;
  int memory_mib_ = 128;
  double mean_duration_ = 0.1;
  double rate_ = 1;  // Poisson, and inside a burst
  double period_ = 60, jitter_ = 0, offset_ = 0;
  int64_t tick_ = 0;
  double burst_length_ = 60, off_mean_ = 3'600, burst_end_ = -1;
};

struct Tally {
  int64_t functions = 0;
  int64_t calls = 0;
  int64_t cold_fixed = 0, cold_adaptive = 0;
  double idle_mib_s_fixed = 0, idle_mib_s_adaptive = 0;
  int64_t adaptive_in_force = 0;  // functions whose last gap ran under learned windows
  double min_rate = 1e18, max_rate = 0;
};

TimePoint At(double seconds) {
  return TimePoint{} + std::chrono::hours(24) +
         std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds));
}

double Seconds(TimePoint t) {
  return std::chrono::duration<double>(t - At(0)).count();
}

// The idle gap from `last_end` to `arrival` under the adaptive policy: the idle replica
// seconds it costs, and whether the call finds a ready replica. The replica that served the
// last call is live at `last_end`. Steps through DecideKeepAlive's actions as the pool's
// control loop does.
bool AdaptiveGap(const KeepAliveWindows& w, const KeepAliveSettings& s, double last_end,
                 double arrival, double& idle_seconds) {
  bool live = true;
  double ready_at = last_end;
  double now = last_end;
  while (now < arrival) {
    KeepAliveAction a = DecideKeepAlive(w, s.start_lead, At(last_end), At(now));
    double until = a.at == TimePoint::max() ? arrival : std::min(Seconds(a.at), arrival);
    if (a.kind == KeepAliveAction::Kind::kRetire) {
      live = false;
    } else if (a.kind == KeepAliveAction::Kind::kPrewarm && !live) {
      live = true;
      ready_at = now + kStartSeconds;
    }
    if (live) idle_seconds += until - now;
    // A step ends at the action's time; guard against a time that does not move.
    now = until > now ? until : arrival;
  }
  return live && ready_at <= arrival;
}

void Simulate(Workload& fn, double horizon, Tally& tally) {
  KeepAliveSettings s;
  s.idle_timeout =
      std::chrono::duration_cast<Micros>(std::chrono::duration<double>(kFixedKeepSeconds));
  s.start_lead = std::chrono::duration_cast<Micros>(std::chrono::duration<double>(kStartSeconds));
  IdleHistogram histogram;
  const double mib = fn.memory_mib();
  int64_t calls = 0;
  bool in_force = false;
  double busy_until = -1;  // the end of the calls running; < 0: none ran yet
  for (double t = fn.Next(0); t < horizon; t = fn.Next(t)) {
    ++calls;
    if (busy_until >= 0 && t < busy_until) {  // overlaps the calls running: their replica
      busy_until = std::max(busy_until, t + fn.Duration());
      continue;
    }
    bool cold_fixed = true, cold_adaptive = true;
    if (busy_until >= 0) {
      const double gap = t - busy_until;
      cold_fixed = gap >= kFixedKeepSeconds;
      tally.idle_mib_s_fixed += std::min(gap, kFixedKeepSeconds) * mib;
      KeepAliveWindows w = ComputeWindows(histogram, s);
      in_force = w.adaptive;
      double idle = 0;
      cold_adaptive = !AdaptiveGap(w, s, busy_until, t, idle);
      tally.idle_mib_s_adaptive += idle * mib;
      histogram.Add(std::chrono::duration_cast<Micros>(std::chrono::duration<double>(gap)));
    }
    tally.cold_fixed += cold_fixed ? 1 : 0;
    tally.cold_adaptive += cold_adaptive ? 1 : 0;
    // Both policies see the same calls at the same times (a cold call's wait for its start
    // is left out of the timeline, so the two stay comparable).
    busy_until = t + fn.Duration();
  }
  // The last replica: fixed keeps it 10 minutes; adaptive keeps it as its windows say
  // (a prewarm for a call that never comes is idle memory too).
  if (busy_until >= 0) {
    tally.idle_mib_s_fixed += std::min(horizon - busy_until, kFixedKeepSeconds) * mib;
    double idle = 0;
    AdaptiveGap(ComputeWindows(histogram, s), s, busy_until, std::max(horizon, busy_until), idle);
    tally.idle_mib_s_adaptive += idle * mib;
  }
  ++tally.functions;
  tally.calls += calls;
  tally.adaptive_in_force += in_force ? 1 : 0;
  double rate = static_cast<double>(calls) / (horizon / kDay);
  if (calls > 0) tally.min_rate = std::min(tally.min_rate, rate);
  tally.max_rate = std::max(tally.max_rate, rate);
}

double Percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

double Ratio(double a, double b) {
  return b == 0 ? 0 : a / b;
}

void PrintRow(const char* name, const Tally& t) {
  constexpr double kGibMin = 1024.0 * 60;  // MiB*s per GiB*min
  std::printf("%-8s %5lld %11lld %8.3f%% %8.3f%% %6.2f %11.0f %11.0f %6.2f %6lld\n", name,
              static_cast<long long>(t.functions), static_cast<long long>(t.calls),
              Percent(t.cold_fixed, t.calls), Percent(t.cold_adaptive, t.calls),
              Ratio(static_cast<double>(t.cold_adaptive), static_cast<double>(t.cold_fixed)),
              t.idle_mib_s_fixed / kGibMin, t.idle_mib_s_adaptive / kGibMin,
              Ratio(t.idle_mib_s_adaptive, t.idle_mib_s_fixed),
              static_cast<long long>(t.adaptive_in_force));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 14;
  int days = 4;
  int functions = 240;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (a == "--days") {
      days = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--functions") {
      functions = std::max(3, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "usage: keepalive-sim [--seed N] [--days N] [--functions N]\n");
      return 2;
    }
  }
  const KeepAliveSettings defaults;
  std::printf(
      "workload: seed %llu, %d functions, %d days; 40%% poisson (1/day..20/s log-uniform), "
      "30%% timers (1/5/15/30/60 min; exact, +-2 s, +-10%%), 30%% bursty (10 s..2 min bursts "
      "at 0.2..5/s, off mean 10 min..4 h); calls 20 ms..2 s, replicas 128..1024 MiB, "
      "start 300 ms\n",
      static_cast<unsigned long long>(seed), functions, days);
  std::printf(
      "policy: fixed keep-alive 10m vs adaptive (min %lld samples, cv >= %.1f, <= %.0f%% out "
      "of range, head p%.0f - %.0f%%, tail p%.0f + %.0f%%, min prewarm %llds, min keep %llds; "
      "fixed 10m as fallback)\n",
      static_cast<long long>(defaults.min_samples), defaults.min_cv,
      defaults.max_out_of_range * 100, defaults.head_quantile * 100, defaults.margin * 100,
      defaults.tail_quantile * 100, defaults.margin * 100,
      static_cast<long long>(defaults.min_prewarm.count() / 1'000'000),
      static_cast<long long>(defaults.min_keep.count() / 1'000'000));

  const double horizon = days * kDay;
  std::array<Tally, 3> by_kind{};
  Tally all;
  for (int i = 0; i < functions; ++i) {
    // 4 of 10 Poisson, 3 timers, 3 bursty, interleaved so any count keeps the mix.
    constexpr std::array<Kind, 10> kMix{
        Kind::kPoisson, Kind::kTimer,   Kind::kBursty, Kind::kPoisson, Kind::kTimer,
        Kind::kBursty,  Kind::kPoisson, Kind::kTimer,  Kind::kBursty,  Kind::kPoisson};
    Workload fn(kMix.at(static_cast<size_t>(i) % kMix.size()),
                seed * 1'000'003 + static_cast<uint64_t>(i));
    Tally one;
    Simulate(fn, horizon, one);
    for (Tally* t : {&by_kind.at(static_cast<size_t>(fn.kind())), &all}) {
      t->functions += one.functions;
      t->calls += one.calls;
      t->cold_fixed += one.cold_fixed;
      t->cold_adaptive += one.cold_adaptive;
      t->idle_mib_s_fixed += one.idle_mib_s_fixed;
      t->idle_mib_s_adaptive += one.idle_mib_s_adaptive;
      t->adaptive_in_force += one.adaptive_in_force;
      t->min_rate = std::min(t->min_rate, one.min_rate);
      t->max_rate = std::max(t->max_rate, one.max_rate);
    }
  }
  std::printf("rates: %.3g to %.3g calls/day per function (%.1f orders of magnitude)\n\n",
              all.min_rate, all.max_rate, std::log10(all.max_rate / all.min_rate));
  std::printf("%-8s %5s %11s %9s %9s %6s %11s %11s %6s %6s\n", "class", "fns", "calls", "cold fix",
              "cold ada", "ratio", "idleGiBm f", "idleGiBm a", "ratio", "learnt");
  for (size_t k = 0; k < by_kind.size(); ++k) PrintRow(kKindNames.at(k), by_kind.at(k));
  PrintRow("all", all);
  std::printf("\nadaptive/fixed: cold starts %.3f, idle replica-memory-minutes %.3f%s\n",
              Ratio(static_cast<double>(all.cold_adaptive), static_cast<double>(all.cold_fixed)),
              Ratio(all.idle_mib_s_adaptive, all.idle_mib_s_fixed),
              all.cold_adaptive < all.cold_fixed && all.idle_mib_s_adaptive < all.idle_mib_s_fixed
                  ? " (both < 1)"
                  : " (goal missed: both should be < 1)");
  return 0;
}
