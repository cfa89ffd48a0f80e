#pragma once

#include <string>

#include "core/result.h"

namespace gantry::cli {

// The whole of standard input, for `-f -` (manifest::LoadOptions::read_stdin). An empty
// input is an empty string; kUnavailable on a read error. Reads until end of input, so
// call it once per process.
core::Result<std::string> ReadStdin();

}  // namespace gantry::cli
