// Cron schedules in time zones (the system's tz database): UTC, an offset zone, the
// spring-forward gap and the fall-back repeat, unknown zones.
#include "spec/zoned_cron.h"

#include <catch2/catch.hpp>

#include "core/time_format.h"

namespace gantry::spec {
namespace {

std::chrono::system_clock::time_point At(const char* utc) {
  auto t = core::ParseUtc(utc);
  REQUIRE(t.ok());
  return *t;
}

std::string Next(const ZonedCron& c, const char* after) {
  auto next = c.Next(At(after));
  if (!next) return "none";
  return core::FormatUtc(std::chrono::system_clock::time_point(*next));
}

TEST_CASE("zoned cron: the next tick on the zone's wall clock, as UTC", "[spec][cron]") {
  auto utc = ZonedCron::Make("*/15 * * * *", "UTC");
  REQUIRE(utc.ok());
  CHECK(Next(*utc, "2026-12-02T13:05:10Z") == "2026-12-02T13:15:00Z");
  CHECK(Next(*utc, "2026-12-02T13:15:00Z") == "2026-12-02T13:30:00Z");  // strictly after

  auto berlin = ZonedCron::Make("30 8 * * MON-FRI", "Europe/Berlin");
  REQUIRE(berlin.ok());
  CHECK(Next(*berlin, "2026-12-02T00:00:00Z") == "2026-12-02T07:30:00Z");  // CET, UTC+1
  CHECK(Next(*berlin, "2026-07-01T00:00:00Z") == "2026-07-01T06:30:00Z");  // CEST, UTC+2
  CHECK(Next(*berlin, "2026-12-04T08:00:00Z") == "2026-12-07T07:30:00Z");  // Friday -> Monday
}

TEST_CASE("zoned cron: a skipped wall-clock minute fires at the change, a repeated one once",
          "[spec][cron]") {
  // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
  auto spring = ZonedCron::Make("30 2 * * *", "Europe/Berlin");
  REQUIRE(spring.ok());
  CHECK(Next(*spring, "2026-03-28T12:00:00Z") == "2026-03-29T01:00:00Z");
  CHECK(Next(*spring, "2026-03-29T01:00:00Z") == "2026-03-30T00:30:00Z");
  // 2026-10-25 03:00 CEST goes back to 02:00 CET: 02:30 happens twice, fires at the first.
  auto fall = ZonedCron::Make("30 2 * * *", "Europe/Berlin");
  REQUIRE(fall.ok());
  CHECK(Next(*fall, "2026-10-24T12:00:00Z") == "2026-10-25T00:30:00Z");
  CHECK(Next(*fall, "2026-10-25T00:30:00Z") == "2026-10-26T01:30:00Z");
  // Every 30 minutes through the repeated hour: each wall-clock minute once.
  auto half = ZonedCron::Make("*/30 * * * *", "Europe/Berlin");
  REQUIRE(half.ok());
  CHECK(Next(*half, "2026-10-25T00:00:00Z") == "2026-10-25T00:30:00Z");  // 02:30 CEST
  CHECK(Next(*half, "2026-10-25T00:30:00Z") == "2026-10-25T02:00:00Z");  // 03:00 CET
}

TEST_CASE("zoned cron: unknown zones and bad expressions are errors", "[spec][cron]") {
  auto zone = ZonedCron::Make("* * * * *", "Europe/Berln");
  REQUIRE_FALSE(zone.ok());
  CHECK_THAT(zone.error().message(), Catch::Contains("unknown time zone \"Europe/Berln\""));
  CHECK_FALSE(ZonedCron::Make("61 * * * *", "UTC").ok());
  CHECK(CheckTimezoneKnown("America/New_York").ok());
  CHECK_FALSE(CheckTimezoneKnown("Mars/Olympus").ok());
  auto never = ZonedCron::Make("0 0 30 2 *", "UTC");
  REQUIRE(never.ok());
  CHECK(Next(*never, "2026-01-01T00:00:00Z") == "none");
}

}  // namespace
}  // namespace gantry::spec
