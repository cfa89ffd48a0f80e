#include "autoscaler/start_planner.h"

#include <catch2/catch.hpp>

#include "autoscaler/demand_estimate.h"

namespace gantry::autoscaler {
namespace {

using namespace std::chrono_literals;

// S = 300 ms unless a case says otherwise.
StartEstimates Known(Micros call) {
  return {.start_latency = 300ms, .call_duration = call};
}
const StartEstimates kNothingKnown{};

TEST_CASE("planner: nothing waiting or no room starts nothing", "[autoscaler]") {
  CHECK(PlanStarts({.waiting = 0, .room = 5}, kNothingKnown).start == 0);
  CHECK(PlanStarts({.waiting = 5, .room = 0}, Known(5s)).start == 0);
  // Waiting calls that the slots coming will take need no start, whatever the estimates.
  CHECK(
      PlanStarts({.waiting = 4, .concurrency = 4, .starting = {0ms}, .room = 5}, Known(5s)).start ==
      0);
}

TEST_CASE("planner: a first burst from zero starts one replica, not one per call", "[autoscaler]") {
  StartPlan plan = PlanStarts({.waiting = 20, .concurrency = 1, .room = 20}, kNothingKnown);
  CHECK(plan.start == 1);
  CHECK_FALSE(plan.replan_in);
  // Its start in progress: nothing more until it is ready (the caller plans again then).
  plan =
      PlanStarts({.waiting = 20, .concurrency = 1, .starting = {100ms}, .room = 19}, kNothingKnown);
  CHECK(plan.start == 0);
  CHECK_FALSE(plan.replan_in);
}

TEST_CASE("planner: with calls running but none finished, it asks again when one has run S",
          "[autoscaler]") {
  StartPlan plan =
      PlanStarts({.waiting = 19, .concurrency = 1, .running = {100ms}, .room = 19}, kNothingKnown);
  CHECK(plan.start == 0);
  REQUIRE(plan.replan_in);
  CHECK(*plan.replan_in == 200ms);
}

TEST_CASE("planner: a call running longer than S is a lower bound on call duration",
          "[autoscaler]") {
  // T >= 400 ms: the busy slot is assumed free in another 400 ms and takes one call by 2*S;
  // each new replica takes one; 19 waiting.
  StartPlan plan =
      PlanStarts({.waiting = 19, .concurrency = 1, .running = {400ms}, .room = 19}, kNothingKnown);
  CHECK(plan.start == 18);
  CHECK_FALSE(plan.replan_in);
  // A known average below what a call in flight has already taken is raised to it.
  CHECK(PlanStarts({.waiting = 19, .concurrency = 1, .running = {400ms}, .room = 19}, Known(10ms))
            .start == 18);
}

TEST_CASE("planner: fast calls are left to the replicas there are", "[autoscaler]") {
  // One slot with a call just begun, 30 ms calls: it takes 19 more within 2*S = 600 ms.
  CHECK(PlanStarts({.waiting = 18, .concurrency = 1, .running = {0ms}, .room = 19}, Known(30ms))
            .start == 0);
  // A replica still starting counts for what it takes once ready.
  CHECK(PlanStarts({.waiting = 10, .concurrency = 1, .starting = {0ms}, .room = 19}, Known(30ms))
            .start == 0);
  // 40 waiting: that slot takes 19 by 2*S, a new replica 10 (from S to 2*S).
  CHECK(PlanStarts({.waiting = 40, .concurrency = 1, .running = {0ms}, .room = 19}, Known(30ms))
            .start == 3);
}

TEST_CASE("planner: slow calls get a replica per call, up to the room", "[autoscaler]") {
  StartDemand slow{.waiting = 19, .concurrency = 1, .running = {0ms}, .room = 19};
  CHECK(PlanStarts(slow, Known(5s)).start == 19);
  slow.room = 3;
  CHECK(PlanStarts(slow, Known(5s)).start == 3);
}

TEST_CASE("planner: never more than the waiting calls would fill (today's bound)", "[autoscaler]") {
  CHECK(PlanStarts({.waiting = 10, .concurrency = 4, .room = 10}, Known(5s)).start == 3);
  // A start in progress takes 4 of them.
  CHECK(PlanStarts({.waiting = 10, .concurrency = 4, .starting = {0ms}, .room = 9}, Known(5s))
            .start == 2);
}

TEST_CASE("planner: waiting calls are never left with nothing ready or starting", "[autoscaler]") {
  CHECK(PlanStarts({.waiting = 1, .concurrency = 1, .room = 1}, Known(1ms)).start == 1);
  CHECK(PlanStarts({.waiting = 1, .concurrency = 1, .room = 1}, kNothingKnown).start == 1);
}

TEST_CASE("planner: a start late past S is assumed to take as long again", "[autoscaler]") {
  // On time: the starting replica takes 10 of the calls by 2*S.
  CHECK(PlanStarts({.waiting = 10, .concurrency = 1, .starting = {200ms}, .room = 5}, Known(30ms))
            .start == 0);
  // 900 ms in, it is not counted on within 2*S.
  CHECK(PlanStarts({.waiting = 10, .concurrency = 1, .starting = {900ms}, .room = 5}, Known(30ms))
            .start == 1);
}

TEST_CASE("planner: when starts cost nothing it starts one per call, as before", "[autoscaler]") {
  StartEstimates free_starts{.start_latency = 1ms, .call_duration = 30ms};
  CHECK(PlanStarts({.waiting = 20, .concurrency = 1, .room = 20}, free_starts).start == 20);
}

// ---- the estimate ----

const DemandEstimate::TimePoint kT0{};

TEST_CASE("estimate: starts and calls are averaged as they end", "[autoscaler]") {
  DemandEstimate e;
  CHECK(e.estimates().start_latency == kDefaultStartLatency);
  CHECK_FALSE(e.estimates().call_duration);

  e.StartBegan("r1", kT0);
  e.StartEnded("r1", kT0 + 500ms, /*ready=*/true);
  CHECK(e.estimates().start_latency == 500ms);  // the first measurement is the estimate
  e.StartBegan("r2", kT0);
  e.StartEnded("r2", kT0 + 100ms, /*ready=*/true);
  CHECK(e.estimates().start_latency == 380ms);  // 0.3 * 100 + 0.7 * 500
  e.StartBegan("r3", kT0);
  e.StartEnded("r3", kT0 + 30s, /*ready=*/false);  // failed starts say nothing
  e.StartEnded("unknown", kT0 + 1s, /*ready=*/true);
  CHECK(e.estimates().start_latency == 380ms);

  e.CallBegan(kT0);
  e.CallEnded(kT0, kT0 + 30ms);
  REQUIRE(e.estimates().call_duration);
  CHECK(*e.estimates().call_duration == 30ms);
}

TEST_CASE("estimate: a plan sees starts in progress and the youngest calls in flight",
          "[autoscaler]") {
  DemandEstimate e;
  e.StartBegan("r1", kT0);
  e.CallBegan(kT0 + 100ms);  // on a replica that drains, say
  e.CallBegan(kT0 + 250ms);
  // One busy slot: the call of age 50 ms counts, not the older one; nothing finished and
  // no call ran S yet: plan again when it has.
  StartPlan plan = e.Plan({.waiting = 5, .concurrency = 1, .room = 5}, {"r1"}, 1, kT0 + 300ms);
  CHECK(plan.start == 0);
  REQUIRE(e.replan_at());
  CHECK(*e.replan_at() == kT0 + 550ms);

  e.CallEnded(kT0 + 100ms, kT0 + 400ms);  // 300 ms calls now; r1 started 400 ms ago
  plan = e.Plan({.waiting = 5, .concurrency = 1, .room = 5}, {"r1"}, 1, kT0 + 400ms);
  CHECK_FALSE(e.replan_at());
  // By 2*S: the busy slot (150 ms left) takes 2, r1 (late: ready in as long again, 400 ms)
  // 1, each new replica 1.
  CHECK(plan.start == 2);
}

}  // namespace
}  // namespace gantry::autoscaler
