#pragma once

#include <string_view>

namespace gantry::shim {

// The shim's own messages: "gantry-shim: <text>" on stderr (the container's log).
void LogShim(std::string_view text);

// One line of the function's output: "[<call id>] <stream>: <line>" on stderr, where the
// call id is "-" when no single call owns the line (output between calls). Each line is
// one write(2), so lines from concurrent calls don't interleave. Thread-safe.
void LogFunctionLine(std::string_view call_id, std::string_view stream, std::string_view line);

}  // namespace gantry::shim
