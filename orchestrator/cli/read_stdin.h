#pragma once

#include <string>

#include "core/result.h"

namespace gantry::cli {

// The whole of standard input, for `-f -` (manifest::LoadOptions::read_stdin). An empty
// input is an empty string; kUnavailable on a read error. Reads until end of input, so
// call it once per process.
core::Result<std::string> ReadStdin();

// A request body as `-d` gives it (invoke, publish): "@FILE" is the file's bytes, anything
// else the text itself; without -d, standard input when it is not a terminal, else "".
// kUnavailable naming the file (as "gantry VERB: ...") when it can't be read.
core::Result<std::string> ReadDataFlag(const std::string& verb, const std::string& data,
                                       bool data_set);

}  // namespace gantry::cli
