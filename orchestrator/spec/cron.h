#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::spec {

// A minute on a wall clock (of some time zone): what a cron schedule matches.
struct CivilMinute {
  std::chrono::year_month_day date;
  int hour = 0;
  int minute = 0;
  bool operator==(const CivilMinute&) const = default;
};

// A parsed 5-field cron expression: the values each field admits. A day field is
// "restricted" when it was not written starting with '*'; when both are, a day matches if
// either does (Vixie cron's rule), otherwise both must.
struct CronSchedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // 1..31
  std::bitset<13> months;         // 1..12
  std::bitset<7> days_of_week;    // 0 = Sunday
  bool dom_restricted = false;
  bool dow_restricted = false;
};

// Parses "minute hour day-of-month month day-of-week" (numbers, JAN-DEC, SUN-SAT, 7 as
// Sunday too; each field a comma list of *, N, N-M, */S, N-M/S, N/S) or one of @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly. InvalidArgument names the field
// and the part that is wrong.
core::Result<CronSchedule> ParseCron(std::string_view text);

// The first minute strictly after `after` that `schedule` matches; nullopt when none comes
// within 8 years ("0 0 30 2 *").
std::optional<CivilMinute> NextMatch(const CronSchedule& schedule, const CivilMinute& after);

// "2026-12-02T13:05".
std::string FormatCivil(const CivilMinute& minute);

}  // namespace gantry::spec
