#include "spec/zoned_cron.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <stdexcept>

namespace gantry::spec {
namespace {

using std::chrono::minutes;
using std::chrono::sys_seconds;

// The zone, or nullptr for UTC.
core::Result<const date::time_zone*> Locate(std::string_view zone) {
  if (zone == "UTC" || zone == "Etc/UTC") return static_cast<const date::time_zone*>(nullptr);
  try {
    return date::locate_zone(zone);
  } catch (const std::exception&) {
    return core::Error::InvalidArgument(
        fmt::format("unknown time zone \"{}\" (an IANA name such as Europe/Berlin, or UTC)", zone));
  }
}

CivilMinute ToCivil(std::chrono::local_time<minutes> local) {
  const auto day = std::chrono::floor<std::chrono::days>(local);
  const auto in_day = local - day;
  return CivilMinute{
      .date = std::chrono::year_month_day(std::chrono::sys_days(day.time_since_epoch())),
      .hour = static_cast<int>(in_day.count() / 60),
      .minute = static_cast<int>(in_day.count() % 60)};
}

date::local_time<minutes> ToLocal(const CivilMinute& m) {
  const auto day = std::chrono::sys_days(m.date).time_since_epoch();
  return date::local_time<minutes>(std::chrono::duration_cast<minutes>(day) +
                                   minutes(m.hour * 60 + m.minute));
}

}  // namespace

core::Result<ZonedCron> ZonedCron::Make(std::string_view cron, std::string_view zone) {
  auto schedule = ParseCron(cron);
  if (!schedule) return schedule.error();
  auto located = Locate(zone);
  if (!located) return located.error();
  return ZonedCron(*schedule, *located);
}

std::optional<sys_seconds> ZonedCron::Next(std::chrono::system_clock::time_point after) const {
  const auto from = std::chrono::floor<minutes>(after);
  CivilMinute civil;
  if (zone_ == nullptr) {
    civil = ToCivil(std::chrono::local_time<minutes>(from.time_since_epoch()));
  } else {
    const auto local = zone_->to_local(date::sys_time<minutes>(from.time_since_epoch()));
    civil = ToCivil(
        std::chrono::local_time<minutes>(std::chrono::floor<minutes>(local.time_since_epoch())));
  }
  // Past a fall-back change, the next wall-clock match may be an instant before `after`
  // (its first occurrence): go on from it. A few steps at most.
  for (int step = 0; step < 200; ++step) {
    auto next = NextMatch(schedule_, civil);
    if (!next) return std::nullopt;
    sys_seconds at;
    if (zone_ == nullptr) {
      at = sys_seconds(ToLocal(*next).time_since_epoch());
    } else {
      at = sys_seconds(zone_->to_sys(ToLocal(*next), date::choose::earliest).time_since_epoch());
    }
    if (at > after) return at;
    civil = *next;
  }
  return std::nullopt;
}

core::Status CheckTimezoneKnown(std::string_view zone) {
  auto located = Locate(zone);
  if (!located) return located.error();
  return core::Ok();
}

}  // namespace gantry::spec
