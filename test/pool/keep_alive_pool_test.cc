// keepAlive: adaptive in the pool, over the in-memory engine and a hand-driven clock: a
// function called on a period is scaled to zero after each call and prewarmed before the
// next predicted one; a fixed function keeps its replica for idleTimeout as before.
#include <catch2/catch.hpp>

#include "pool/function_replicas.h"
#include "pool/keep_alive_control.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

constexpr auto kPeriod = 60s;       // between one call's start and the next
constexpr auto kCallTime = 100ms;   // each call runs this long
constexpr int kTrainingCalls = 21;  // the last one makes the policy's min_samples (20)

Deployment Periodic(KeepAlive keep_alive) {
  Deployment d = Echo();
  d.concurrency = 1;
  d.idle_timeout = 10min;
  d.keep_alive = keep_alive;
  return d;
}

FunctionStatus MustDescribe(Pool& pool) {
  auto s = pool.Describe("default", "echo");
  REQUIRE(s.ok());
  return *s;
}

// One call: acquired (from a ready replica when `warm`), run for kCallTime, released.
// Returns whether it was a cold start.
bool Call(Harness& h) {
  auto a = h.Acquire();
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  bool cold = lease->cold_start();
  h.clock.Advance(kCallTime);
  { Lease done = std::move(*lease); }
  return cold;
}

// Reconciles every second for `span`, then waits for what it started or stopped.
void RunFor(Harness& h, std::chrono::milliseconds span) {
  for (auto t = 0ms; t < span; t += 1s) {
    h.clock.Advance(std::min<std::chrono::milliseconds>(1s, span - t));
    h.pool->Reconcile();
    h.pool->Flush();
  }
}

TEST_CASE(
    "keep-alive pool: an adaptive periodic function is scaled to zero after its call and "
    "prewarmed before the next",
    "[pool][keep-alive]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Periodic(KeepAlive::kAdaptive)).ok());
  CHECK(MustDescribe(*h.pool).keep_alive == "adaptive: fixed 10m (too few samples: 0)");

  // Learning: the fixed 10 minutes keep the one replica between calls.
  CHECK(Call(h));  // the first call starts it
  for (int i = 1; i < kTrainingCalls; ++i) {
    RunFor(h, kPeriod - kCallTime);
    CHECK_FALSE(Call(h));
  }
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK_THAT(s.keep_alive, Catch::StartsWith("adaptive: prewarm "));
  CHECK_THAT(s.keep_alive, Catch::EndsWith("(20 samples)"));

  for (int cycle = 0; cycle < 3; ++cycle) {
    CAPTURE(cycle);
    const int created = h.docker.CountCalls("CreateContainer");
    const int stopped = h.docker.CountCalls("StopContainer");
    // The call is over and the next is ~60 s away: the replica goes at once.
    RunFor(h, 1s);
    CHECK(h.docker.CountCalls("StopContainer") == stopped + 1);
    CHECK(MustDescribe(*h.pool).ready == 0);
    CHECK(h.docker.containers().empty());
    // None is started until shortly before the next call is due ...
    auto waited = 1s;
    while (h.docker.CountCalls("CreateContainer") == created && waited < kPeriod) {
      RunFor(h, 1s);
      waited += 1s;
    }
    CHECK(waited >= 45s);
    CHECK(waited < kPeriod - kCallTime);
    CHECK(h.docker.CountCalls("CreateContainer") == created + 1);
    CHECK(MustDescribe(*h.pool).ready == 1);
    // ... and the call finds it ready.
    RunFor(h, kPeriod - kCallTime - waited);
    CHECK_FALSE(Call(h));
  }
}

TEST_CASE("keep-alive pool: the prewarm unpauses a replica scale.min kept paused",
          "[pool][keep-alive]") {
  Harness h;
  h.probe.Open();
  Deployment d = Periodic(KeepAlive::kAdaptive);
  d.min_replicas = 1;
  d.pause_after = 5s;
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  for (int i = 0; i < kTrainingCalls; ++i) {
    RunFor(h, kPeriod - kCallTime);
    Call(h);
  }
  CHECK_THAT(MustDescribe(*h.pool).keep_alive, Catch::StartsWith("adaptive: prewarm "));
  for (int cycle = 0; cycle < 2; ++cycle) {
    CAPTURE(cycle);
    const int unpauses = h.docker.CountCalls("UnpauseContainer");
    const int pauses = h.docker.CountCalls("PauseContainer");
    RunFor(h, 15s);  // scale.min keeps it; pauseAfter pauses it
    CHECK(MustDescribe(*h.pool).paused == 1);
    auto waited = 15s;
    while (h.docker.CountCalls("UnpauseContainer") == unpauses && waited < kPeriod) {
      RunFor(h, 1s);
      waited += 1s;
    }
    CHECK(waited >= 45s);
    CHECK(waited < kPeriod - kCallTime);
    CHECK(h.docker.CountCalls("UnpauseContainer") == unpauses + 1);
    CHECK(MustDescribe(*h.pool).paused == 0);
    RunFor(h, kPeriod - kCallTime - waited);
    // Not paused again while the call is due (pauseAfter has passed since the unpause).
    CHECK(MustDescribe(*h.pool).paused == 0);
    CHECK(h.docker.CountCalls("PauseContainer") == pauses + 1);
    CHECK(h.docker.CountCalls("UnpauseContainer") == unpauses + 1);
    CHECK_FALSE(Call(h));
  }
  CHECK(h.docker.CountCalls("CreateContainer") == 1);  // never a second container
}

TEST_CASE("keep-alive pool: a prewarm respects the start back-off", "[pool][keep-alive]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Periodic(KeepAlive::kAdaptive)).ok());
  Call(h);
  for (int i = 1; i < kTrainingCalls; ++i) {
    RunFor(h, kPeriod - kCallTime);
    Call(h);
  }
  const int before = h.docker.CountCalls("CreateContainer");
  h.docker.FailCalls("CreateContainer", core::Error::Internal("engine says no"));
  RunFor(h, kPeriod - kCallTime - 1s);
  // The prewarm's start failed; the back-off (1 s, doubling with each failure) holds the
  // next tries back, so a pass every second does not try every second of the window.
  int tries = h.docker.CountCalls("CreateContainer") - before;
  CHECK(tries >= 2);
  CHECK(tries <= 4);
  CHECK(MustDescribe(*h.pool).failures_in_a_row >= 1);
  h.docker.ClearFailure("CreateContainer");
}

TEST_CASE("keep-alive pool: a fixed function keeps its replica for idleTimeout as before",
          "[pool][keep-alive]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Periodic(KeepAlive::kFixed)).ok());
  CHECK(Call(h));
  for (int i = 1; i < kTrainingCalls + 3; ++i) {
    RunFor(h, kPeriod - kCallTime);
    CHECK_FALSE(Call(h));
  }
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  CHECK(h.docker.CountCalls("StopContainer") == 0);
  CHECK(MustDescribe(*h.pool).keep_alive.empty());
  RunFor(h, 10min - 1s);
  CHECK(MustDescribe(*h.pool).ready == 1);
  RunFor(h, 2s);
  CHECK(MustDescribe(*h.pool).ready == 0);
  CHECK(h.docker.CountCalls("StopContainer") == 1);
}

TEST_CASE("keep-alive pool: the control loop wakes for an adaptive function's prewarm",
          "[pool][keep-alive]") {
  Deployment d = Periodic(KeepAlive::kAdaptive);
  FunctionReplicas fn("default/echo", d);
  core::ManualClock clock;
  const core::SteadyTime end = clock.Now();
  std::lock_guard<std::mutex> lock(fn.mu);
  for (int i = 0; i < kTrainingCalls; ++i) fn.idle_times.Add(59s);
  // Busy (no idle_since) or fixed: the loop's own wait.
  CHECK(KeepAliveWaitLocked(fn, end, 1s) == 1s);
  fn.idle_since = end;
  autoscaler::KeepAliveWindows w =
      autoscaler::ComputeWindows(fn.idle_times, KeepAliveSettingsLocked(fn));
  REQUIRE(w.adaptive);
  REQUIRE(w.prewarm > 0s);
  auto lead = KeepAliveSettingsLocked(fn).start_lead;
  auto prewarm_at = end + w.prewarm - lead;
  CHECK(KeepAliveWaitLocked(fn, end, 1s) == 1s);  // the prewarm is far off
  auto now = prewarm_at - 300ms;
  CHECK(KeepAliveWaitLocked(fn, now, 1s) == 301ms);
  // In the window: until its end.
  now = end + w.keep - 20ms;
  CHECK(KeepAliveWaitLocked(fn, now, 1s) == 21ms);
  fn.deployment.keep_alive = KeepAlive::kFixed;
  CHECK(KeepAliveWaitLocked(fn, now, 1s) == 1s);
}

}  // namespace
}  // namespace gantry::pool
