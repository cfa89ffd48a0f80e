#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::spec {

// Parses a duration written as one or more number+unit pairs, units ms, s, m, h:
// "250ms", "30s", "5m", "1h30m", "1.5s". Returns InvalidArgument for a bare number, an
// unknown unit, a precision finer than 1ms, a negative value or more than 10 000 hours.
core::Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Formats a duration in the shortest form ParseDuration reads back: "250ms", "30s", "5m",
// "1h30m", "1m30s500ms"; "0s" for zero.
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace gantry::spec
