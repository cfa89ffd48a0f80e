#include "core/time_format.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>

namespace gantry::core {
namespace {

using std::chrono::system_clock;

// The seconds of `t`, towards the past (so a time before 1970 keeps its own second).
std::time_t FloorSeconds(system_clock::time_point t) {
  return system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

std::string FormatUtc(system_clock::time_point t) {
  return fmt::format("{:%FT%TZ}", fmt::gmtime(FloorSeconds(t)));
}

std::string FormatUtcMillis(system_clock::time_point t) {
  auto whole = std::chrono::floor<std::chrono::seconds>(t);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t - whole).count();
  return fmt::format("{:%FT%T}.{:03}Z", fmt::gmtime(FloorSeconds(t)), millis);
}

Result<system_clock::time_point> ParseUtc(std::string_view text) {
  std::string copy(text);  // strptime needs a terminated string
  std::tm tm{};
  if (strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return Error::InvalidArgument(
        fmt::format("\"{}\" is not an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", text));
  }
  return system_clock::from_time_t(timegm(&tm));
}

int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromUnixMillis(int64_t unix_ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(unix_ms)));
}

}  // namespace gantry::core
