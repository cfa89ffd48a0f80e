#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::core {

// ISO-8601 / RFC 3339 UTC times, as every API answer, log line and CLI request writes them
// (fmt's chrono formatting of the UTC calendar time; never the local time zone).

// "2026-01-02T15:04:05Z": whole seconds, the fraction dropped (not rounded).
std::string FormatUtc(std::chrono::system_clock::time_point t);

// "2026-01-02T15:04:05.123Z": with milliseconds (log lines).
std::string FormatUtcMillis(std::chrono::system_clock::time_point t);

// Milliseconds since the Unix epoch, as the store keeps times, and back.
int64_t UnixMillis(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point FromUnixMillis(int64_t unix_ms);

// Reads the "YYYY-MM-DDTHH:MM:SS" start of an RFC 3339 time as UTC; what follows the
// seconds (a fraction, "Z", an offset) is ignored. kInvalidArgument when the text does
// not start that way.
Result<std::chrono::system_clock::time_point> ParseUtc(std::string_view text);

}  // namespace gantry::core
