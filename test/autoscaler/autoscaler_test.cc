#include "autoscaler/autoscaler.h"

#include <catch2/catch.hpp>

namespace gantry::autoscaler {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0{};  // an arbitrary origin; only differences matter

TimePoint At(Duration d) {
  return kT0 + d;
}

TEST_CASE("the window averages a step function over time", "[autoscaler]") {
  ConcurrencyWindow w(60s);
  CHECK(w.Average(At(10s), 10s) == Approx(0));
  w.Set(At(0s), 4);
  w.Set(At(5s), 0);
  // 4 for 5 s, then 0 for 5 s.
  CHECK(w.Average(At(10s), 10s) == Approx(2));
  CHECK(w.Average(At(10s), 5s) == Approx(0));
  CHECK(w.Average(At(5s), 5s) == Approx(4));
  // Time before the first Set counts as 0: 4 for 5 s out of 20 s.
  CHECK(w.Average(At(5s), 20s) == Approx(1));
  CHECK(w.current() == 0);
  w.Set(At(5s), 7);  // same instant: replaces
  CHECK(w.current() == 7);
  CHECK(w.Average(At(6s), 1s) == Approx(7));
}

TEST_CASE("old history is dropped but the value spanning the window is kept", "[autoscaler]") {
  ConcurrencyWindow w(10s);
  w.Set(At(0s), 3);
  w.Set(At(100s), 3);  // the point at 0 s ends before the history: dropped
  w.Set(At(200s), 1);
  CHECK(w.Average(At(205s), 10s) == Approx(2));  // 3 for 5 s, 1 for 5 s
}

Policy OnePerReplica() {
  Policy p;
  p.concurrency = 1;
  p.min_replicas = 0;
  p.max_replicas = 20;
  return p;
}

TEST_CASE("RateWindow counts arrivals per second over a window", "[autoscaler]") {
  RateWindow r(60s);
  CHECK(r.Rate(At(10s), 10s) == 0);
  for (int i = 0; i < 100; ++i) r.Add(At(0s) + std::chrono::milliseconds(i * 100));  // 10/s
  CHECK(r.Rate(At(10s), 10s) == Approx(10).margin(0.2));
  CHECK(r.Rate(At(10s), 5s) == Approx(10).margin(0.4));
  CHECK(r.Rate(At(40s), 10s) == 0);  // long past
  r.Add(At(200s));                   // older buckets leave the history
  CHECK(r.Rate(At(200s), 60s) == Approx(1.0 / 60));
}

TEST_CASE("rps_per_replica scales on calls per second, not on calls in flight", "[autoscaler]") {
  Policy p = OnePerReplica();
  p.rps_per_replica = 10;
  Autoscaler a(p);
  ConcurrencyWindow w(60s);
  w.Set(At(0s), 1);  // one call in flight all along: 2 replicas on in-flight calls
  RateWindow r(61s);
  for (int i = 0; i < 600; ++i) r.Add(At(0s) + std::chrono::milliseconds(i * 100));  // 10/s
  Decision d = a.Decide(w, 1, At(60s), At(60s), &r);
  CHECK(d.desired == 1);  // 10 calls/s, 10 per replica
  CHECK_THAT(d.reason, Catch::Contains("calls/s"));
  RateWindow busy(61s);
  for (int i = 0; i < 6000; ++i) busy.Add(At(0s) + std::chrono::milliseconds(i * 10));  // 100/s
  Autoscaler b(p);
  CHECK(b.Decide(w, 10, At(60s), At(60s), &busy).desired == 10);
  // Without arrivals the policy falls back to calls in flight.
  Autoscaler c(p);
  CHECK(c.Decide(w, 2, At(60s), At(60s)).desired == 2);
}

TEST_CASE("steady load scales to load over 70% of concurrency", "[autoscaler]") {
  Autoscaler a(OnePerReplica());
  ConcurrencyWindow w(60s);
  w.Set(At(0s), 3.5);
  // 3.5 in flight / 0.7 per replica = 5 replicas.
  Decision d = a.Decide(w, 5, At(60s), At(60s));
  CHECK(d.desired == 5);
  CHECK_FALSE(d.panic);
  CHECK_THAT(d.reason, Catch::StartsWith("stable: 3.50 in flight"));

  Policy four = OnePerReplica();
  four.concurrency = 4;  // 3.5 / 2.8 = 1.25 -> 2
  Autoscaler b(four);
  CHECK(b.Decide(w, 2, At(60s), At(60s)).desired == 2);
}

TEST_CASE("a burst panics: scales on the short window and never down until calm", "[autoscaler]") {
  Autoscaler a(OnePerReplica());
  ConcurrencyWindow w(60s);
  w.Set(At(0s), 0.7);  // one replica's worth for a minute
  CHECK(a.Decide(w, 1, At(60s), At(60s)).desired == 1);

  w.Set(At(60s), 7);  // load jumps ten-fold
  Decision burst = a.Decide(w, 1, At(63s), At(63s));
  CHECK(burst.panic);
  // The panic window (6 s) holds 3 s of 0.7 and 3 s of 7: 3.85 / 0.7 -> 6. The stable
  // window would have said 2.
  CHECK(burst.desired == 6);

  // Load drops again, but inside the panic period nothing scales down.
  w.Set(At(64s), 0.7);
  Decision during = a.Decide(w, 6, At(80s), At(80s));
  CHECK(during.panic);
  CHECK(during.desired == 6);

  // A stable window after the last overload, panic ends and scale-down resumes, by half.
  Decision after = a.Decide(w, 6, At(64s + 61s), At(120s));
  CHECK_FALSE(after.panic);
  CHECK(after.desired == 3);
  CHECK_THAT(after.reason, Catch::Contains("scale-down limited to 3"));
}

TEST_CASE("scale to zero only after the idle timeout", "[autoscaler]") {
  Policy p = OnePerReplica();
  p.idle_timeout = 300s;
  Autoscaler a(p);
  ConcurrencyWindow w(60s);
  w.Set(At(0s), 1);
  w.Set(At(1s), 0);
  // Quiet for minutes, but the last call was 100 s ago: one replica stays warm.
  Decision warm = a.Decide(w, 1, At(101s), At(1s));
  CHECK(warm.desired == 1);
  CHECK_THAT(warm.reason, Catch::Contains("kept warm until idle"));
  // Idle for the whole timeout: zero.
  CHECK(a.Decide(w, 1, At(301s), At(1s)).desired == 0);
  // Never called at all: nothing to keep.
  Autoscaler fresh(p);
  CHECK(fresh.Decide(ConcurrencyWindow(60s), 0, At(10s), std::nullopt).desired == 0);
}

TEST_CASE("min and max bound every decision", "[autoscaler]") {
  Policy p = OnePerReplica();
  p.min_replicas = 2;
  p.max_replicas = 4;
  Autoscaler a(p);
  ConcurrencyWindow idle(60s);
  Decision low = a.Decide(idle, 2, At(1000s), std::nullopt);
  CHECK(low.desired == 2);
  ConcurrencyWindow busy(60s);
  busy.Set(At(0s), 100);
  Decision high = a.Decide(busy, 4, At(60s), At(60s));
  CHECK(high.desired == 4);
  CHECK_THAT(high.reason, Catch::Contains("clamped to [2, 4]"));
}

TEST_CASE("in-flight calls keep a replica even past the idle timeout", "[autoscaler]") {
  Autoscaler a(OnePerReplica());
  ConcurrencyWindow w(60s);
  w.Set(At(0s), 0);
  w.Set(At(999s), 0.01);  // a long call still running, started long ago
  CHECK(a.Decide(w, 1, At(1000s), At(0s)).desired >= 1);
}

}  // namespace
}  // namespace gantry::autoscaler
