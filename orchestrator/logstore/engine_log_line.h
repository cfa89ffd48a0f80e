#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::logstore {

// A container log line as the engine writes it with timestamps=true:
// "2026-01-02T15:04:05.123456789Z text".
struct EngineLogLine {
  std::chrono::system_clock::time_point time;
  std::string text;
};

// The call id a gantry-shim line starts with ("[<36-character call id>] stderr: ...": the
// shim tags an exec call's output so); "" when it does not.
std::string ShimCallId(std::string_view text);

// Splits and reads one such line: the time to the nanosecond (core::ParseUtc for the
// seconds, then the fraction). nullopt when it does not start with an RFC 3339 UTC time.
std::optional<EngineLogLine> ParseEngineLogLine(std::string_view line);

}  // namespace gantry::logstore
