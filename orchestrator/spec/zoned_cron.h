#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "spec/cron.h"

namespace date {
class time_zone;
}

namespace gantry::spec {

// A cron schedule on the wall clock of an IANA time zone (the system's tz database,
// /usr/share/zoneinfo, through Howard Hinnant's date library: g++ 12's <chrono> has none).
// Apart from the gantry_spec library, which stays pure: it reads the filesystem.
class ZonedCron {
 public:
  // kInvalidArgument for an expression ParseCron refuses or a zone the database lacks.
  static core::Result<ZonedCron> Make(std::string_view cron, std::string_view zone);

  // The first tick strictly after `after`: the next minute the schedule matches on the
  // zone's wall clock, as a UTC instant. A wall-clock minute that does not exist (skipped
  // by a DST change) fires at the change; one that occurs twice fires at its first
  // occurrence only. nullopt when nothing matches within 8 years.
  std::optional<std::chrono::sys_seconds> Next(std::chrono::system_clock::time_point after) const;

 private:
  ZonedCron(CronSchedule schedule, const date::time_zone* zone)
      : schedule_(schedule), zone_(zone) {}
  CronSchedule schedule_;
  const date::time_zone* zone_;  // nullptr: UTC
};

// Whether the tz database knows `zone` ("UTC" always); the error names it otherwise.
core::Status CheckTimezoneKnown(std::string_view zone);

}  // namespace gantry::spec
