#include "spec/cron.h"

#include <catch2/catch.hpp>
#include <string>

namespace gantry::spec {
namespace {

using namespace std::chrono;

CivilMinute At(int y, unsigned mo, unsigned d, int h, int mi) {
  return {year(y) / month(mo) / day(d), h, mi};
}

std::string Next(std::string_view expression, CivilMinute after) {
  auto schedule = ParseCron(expression);
  REQUIRE(schedule.ok());
  auto next = NextMatch(*schedule, after);
  return next ? FormatCivil(*next) : "never";
}

std::string ErrorOf(std::string_view expression) {
  auto schedule = ParseCron(expression);
  REQUIRE_FALSE(schedule.ok());
  return schedule.error().message();
}

TEST_CASE("Cron fields: numbers, ranges, steps, lists and names", "[spec][cron]") {
  auto s = ParseCron("*/15 9-17 1,15 JAN-mar mon-fri");
  REQUIRE(s.ok());
  CHECK(s->minutes.count() == 4);
  CHECK(s->minutes[0]);
  CHECK(s->minutes[45]);
  CHECK(s->hours.count() == 9);
  CHECK(s->days_of_month.count() == 2);
  CHECK(s->months.count() == 3);
  CHECK(s->days_of_week.count() == 5);
  CHECK_FALSE(s->days_of_week[0]);
  CHECK(s->dom_restricted);
  CHECK(s->dow_restricted);

  auto sunday = ParseCron("0 0 * * 7");
  REQUIRE(sunday.ok());
  CHECK(sunday->days_of_week[0]);
  CHECK(sunday->days_of_week.count() == 1);
  CHECK_FALSE(sunday->dom_restricted);

  auto from = ParseCron("5/20 0-10/5 * * *");
  REQUIRE(from.ok());
  CHECK(from->minutes.count() == 3);  // 5, 25, 45
  CHECK(from->minutes[25]);
  CHECK(from->hours.count() == 3);  // 0, 5, 10

  auto hourly = ParseCron("@hourly");
  REQUIRE(hourly.ok());
  CHECK(hourly->minutes.count() == 1);
  CHECK(hourly->hours.count() == 24);
  for (std::string_view shorthand :
       {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight"}) {
    INFO(shorthand);
    CHECK(ParseCron(shorthand).ok());
  }
  CHECK(ParseCron("  *  *\t* * *  ").ok());
}

TEST_CASE("Cron errors name the field and the part", "[spec][cron]") {
  CHECK(ErrorOf("* * * *") ==
        "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  CHECK(ErrorOf("61 * * * *") == "minute field \"61\": 61 is out of range 0-59");
  CHECK(ErrorOf("* 24 * * *") == "hour field \"24\": 24 is out of range 0-23");
  CHECK(ErrorOf("* * 0 * *") == "day-of-month field \"0\": 0 is out of range 1-31");
  CHECK(ErrorOf("* * * FOO *") == "month field \"FOO\": \"FOO\" is not a number");
  CHECK(ErrorOf("* * * * 8") == "day-of-week field \"8\": 8 is out of range 0-7");
  CHECK(ErrorOf("*/0 * * * *") == "minute field \"*/0\": step 0 is out of range 1-59");
  CHECK(ErrorOf("5-3 * * * *") == "minute field \"5-3\": range 5-3 runs backwards");
  CHECK(ErrorOf("1,,2 * * * *") == "minute field \"1,,2\": an empty list item");
  CHECK(ErrorOf("*/x * * * *") == "minute field \"*/x\": step \"x\" is not a number");
  CHECK(ErrorOf("@often").starts_with("unknown shorthand \"@often\" (known: @yearly"));
}

TEST_CASE("Cron next match", "[spec][cron]") {
  CHECK(Next("*/5 * * * *", At(2026, 12, 2, 12, 3)) == "2026-12-02T12:05");
  CHECK(Next("*/5 * * * *", At(2026, 12, 2, 12, 5)) == "2026-12-02T12:10");  // strictly after
  CHECK(Next("* * * * *", At(2026, 12, 2, 12, 59)) == "2026-12-02T13:00");
  CHECK(Next("30 2 * * *", At(2026, 12, 2, 3, 0)) == "2026-12-03T02:30");
  CHECK(Next("0 0 1 1 *", At(2026, 12, 31, 23, 59)) == "2027-01-01T00:00");
  CHECK(Next("0 0 29 2 *", At(2026, 3, 1, 0, 0)) == "2028-02-29T00:00");
  CHECK(Next("0 0 31 * *", At(2026, 4, 1, 0, 0)) == "2026-05-31T00:00");
  CHECK(Next("0 0 30 2 *", At(2026, 1, 1, 0, 0)) == "never");
  CHECK(Next("@hourly", At(2026, 12, 2, 23, 0)) == "2026-12-03T00:00");
}

TEST_CASE("Cron day fields: either when both are restricted", "[spec][cron]") {
  // 2026-12-07 is a Monday; the 1st of January 2027 is a Friday.
  CHECK(Next("0 0 1 * MON", At(2026, 12, 2, 0, 0)) == "2026-12-07T00:00");
  CHECK(Next("0 0 1 * MON", At(2026, 12, 28, 0, 0)) == "2027-01-01T00:00");
  // One restricted: only it counts.
  CHECK(Next("0 0 * * MON", At(2026, 12, 2, 0, 0)) == "2026-12-07T00:00");
  CHECK(Next("0 0 13 * *", At(2026, 12, 2, 0, 0)) == "2026-12-13T00:00");
  // A step from '*' is unrestricted for the rule: both must match.
  CHECK(Next("0 0 */2 * MON", At(2026, 12, 2, 0, 0)) == "2026-12-07T00:00");
  CHECK(Next("0 0 */2 * TUE", At(2026, 12, 2, 0, 0)) == "2026-12-15T00:00");
}

}  // namespace
}  // namespace gantry::spec
