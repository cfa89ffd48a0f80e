#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace gantry::shim {

// What POST /_/specialize tells a stem cell's shim (/work/briefs/protocol14.md): the
// function it now runs. Every field is optional in the body; what is absent keeps the
// shim's own setting.
//   {"env": {"NAME": "VALUE"}, "command": ["cat"], "timeout": "30s", "maxInflight": 4,
//    "maxBody": 6291456, "functionName": "echo"}
// Unknown fields are ignored, so gantryd may send more than this shim knows.
struct Specialization {
  // The function's environment, added over the shim's own for the function's processes.
  std::map<std::string, std::string> env;
  std::vector<std::string> command;  // exec mode: the function (required there)
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::size_t> max_inflight;
  std::optional<std::size_t> max_body;
  std::optional<std::string> function_name;
};

// Parses a /_/specialize body. Returns the specialisation, or nothing with `error` naming
// the field at fault (not a JSON object; env not an object of strings, or a name that is
// empty or holds '=' or a NUL, or a value with a NUL; command not an array of strings;
// timeout not a positive duration ("30s", "250ms"); maxInflight not a positive integer;
// maxBody not a non-negative integer or size ("6M"); functionName not a string).
std::optional<Specialization> ParseSpecialization(std::string_view body, std::string& error);

// Makes `config` the specialised function's: its timeout, max in-flight (and as many
// runtime-api handlers), max body and function name where given, and its command. Call
// once, before anything reads those fields for a call.
void ApplySpecialization(const Specialization& specialization, ShimConfig& config);

// `base` ("NAME=value" entries) with `env` laid over it: an entry of `base` whose name
// `env` sets is replaced, the rest of `env` appended; names in `drop` are left out of both.
std::vector<std::string> OverlayEnvironment(const std::vector<std::string>& base,
                                            const std::map<std::string, std::string>& env,
                                            const std::vector<std::string_view>& drop = {});

// The variable that puts a shim (and the first handler process of a runtime-api stem) into
// stem mode.
inline constexpr const char* kStemVariable = "GANTRY_STEM";

}  // namespace gantry::shim
