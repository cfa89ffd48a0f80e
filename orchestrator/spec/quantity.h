#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::spec {

// Parses a memory quantity into bytes: a plain integer ("1048576"), a binary suffix
// ("128Ki", "128Mi", "1Gi", "1Ti") or a decimal one ("100k", "100M", "1G", "1T"); a
// decimal fraction is allowed with a suffix when it comes out a whole number of bytes
// ("1.5Gi"). Returns InvalidArgument with a message naming the accepted forms otherwise,
// and for values that do not fit in 63 bits.
core::Result<std::int64_t> ParseMemory(std::string_view text);

// Formats bytes in the shortest exact form ParseMemory reads back: "128Mi", "1Gi", "1000".
std::string FormatMemory(std::int64_t bytes);

// Parses a CPU quantity into millicores: cores as a number ("2", "0.5", "0.25") or
// millicores ("500m"). Precision finer than 1m is an error.
core::Result<std::int64_t> ParseCpu(std::string_view text);

// Formats millicores as ParseCpu reads them back: "500m", "2" for whole cores.
std::string FormatCpu(std::int64_t millicores);

}  // namespace gantry::spec
