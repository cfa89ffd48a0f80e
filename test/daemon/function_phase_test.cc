// The status rules of daemon/function_phase.h, one by one, with the time given.
#include "daemon/function_phase.h"

#include <catch2/catch.hpp>

namespace gantry::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::time_point(1'800'000'000s);

FunctionPhase Derive(const pool::FunctionStatus& live, int min, const std::string& stored = "ready",
                     const std::string& error = "") {
  return DerivePhase({.stored_status = stored,
                      .stored_error = error,
                      .live = &live,
                      .min_replicas = min,
                      .now = kNow});
}

TEST_CASE("phase: names", "[phase]") {
  CHECK(PhaseName(Phase::kBuilding) == "Building");
  CHECK(PhaseName(Phase::kBuildFailed) == "BuildFailed");
  CHECK(PhaseName(Phase::kReady) == "Ready");
  CHECK(PhaseName(Phase::kScaledToZero) == "ScaledToZero");
  CHECK(PhaseName(Phase::kDegraded) == "Degraded");
  CHECK(PhaseName(Phase::kCrashLoop) == "CrashLoop");
}

TEST_CASE("phase: an apply that builds is Building, whatever runs", "[phase]") {
  pool::FunctionStatus live;
  live.ready = 1;
  CHECK(Derive(live, 1, "building").phase == Phase::kBuilding);
}

TEST_CASE("phase: a failed build with nothing running is BuildFailed with the error", "[phase]") {
  auto p = DerivePhase({.stored_status = "failed",
                        .stored_error = "step 3/5 failed: pip install",
                        .live = nullptr,
                        .now = kNow});
  CHECK(p.phase == Phase::kBuildFailed);
  CHECK(p.reason == "step 3/5 failed: pip install");
}

TEST_CASE("phase: a failed apply while the old generation serves is Degraded", "[phase]") {
  pool::FunctionStatus live;
  live.ready = 1;
  auto p = Derive(live, 1, "failed", "generation 2 did not become ready");
  CHECK(p.phase == Phase::kDegraded);
  CHECK(p.reason == "generation 2 did not become ready");
}

TEST_CASE("phase: replicas dying before ready is CrashLoop with the reason and next retry",
          "[phase]") {
  pool::FunctionStatus live;
  live.last_failure = "handler import failed: ModuleNotFoundError: No module named 'requests'";
  live.last_failure_before_ready = true;
  SECTION("two in a row, back-off over") {
    live.failures_in_a_row = 2;
    auto p = Derive(live, 0);
    CHECK(p.phase == Phase::kCrashLoop);
    CHECK(p.reason == live.last_failure);
    CHECK_FALSE(p.next_retry.has_value());
  }
  SECTION("one, back-off running") {
    live.failures_in_a_row = 1;
    live.next_retry = kNow + 2s;
    auto p = Derive(live, 1);
    CHECK(p.phase == Phase::kCrashLoop);
    REQUIRE(p.next_retry.has_value());
    CHECK(*p.next_retry == kNow + 2s);
  }
  SECTION("one, back-off over: not a loop yet") {
    live.failures_in_a_row = 1;
    live.next_retry = kNow - 1s;
    CHECK(Derive(live, 0).phase == Phase::kScaledToZero);
    CHECK(Derive(live, 1).phase == Phase::kDegraded);
    CHECK_THAT(Derive(live, 1).reason, Catch::Contains("No module named 'requests'"));
  }
  SECTION("even when the last apply was recorded failed") {
    live.failures_in_a_row = 2;
    CHECK(Derive(live, 1, "failed", "did not become ready").phase == Phase::kCrashLoop);
  }
}

TEST_CASE("phase: Ready when ready >= max(min, 1)", "[phase]") {
  pool::FunctionStatus live;
  live.ready = 1;
  CHECK(Derive(live, 0).phase == Phase::kReady);
  CHECK(Derive(live, 1).phase == Phase::kReady);
  CHECK(Derive(live, 2).phase == Phase::kDegraded);
  CHECK(Derive(live, 2).reason == "1 of 2 replicas ready");
  live.ready = 2;
  CHECK(Derive(live, 2).phase == Phase::kReady);
  CHECK(Derive(live, 2).reason.empty());
}

TEST_CASE("phase: a replica that died after ready recently makes it Degraded for a while",
          "[phase]") {
  pool::FunctionStatus live;
  live.ready = 1;
  live.last_failure = "out of memory (128Mi)";
  live.last_failure_before_ready = false;
  live.last_failure_time = kNow - 10s;
  auto p = Derive(live, 1);
  CHECK(p.phase == Phase::kDegraded);
  CHECK(p.reason == "replica died: out of memory (128Mi)");
  live.last_failure_time = kNow - kRecentDeath - 1s;
  CHECK(Derive(live, 1).phase == Phase::kReady);
}

TEST_CASE("phase: scale.min 0 with nothing ready is ScaledToZero", "[phase]") {
  pool::FunctionStatus live;
  CHECK(Derive(live, 0).phase == Phase::kScaledToZero);
  CHECK(Derive(live, 0).reason.empty());
  live.starting = 1;
  CHECK(Derive(live, 0).phase == Phase::kScaledToZero);
  CHECK(Derive(live, 0).reason == "starting a replica");
  auto gone = DerivePhase({.stored_status = "ready", .live = nullptr, .now = kNow});
  CHECK(gone.phase == Phase::kScaledToZero);
}

TEST_CASE("phase: fewer ready than scale.min is Degraded, with the last failure", "[phase]") {
  pool::FunctionStatus live;
  live.starting = 1;
  live.last_error = "replica r1 died: container exited (code 1)";
  auto p = Derive(live, 1);
  CHECK(p.phase == Phase::kDegraded);
  CHECK(p.reason == "0 of 1 replicas ready: replica r1 died: container exited (code 1)");
}

}  // namespace
}  // namespace gantry::daemon
