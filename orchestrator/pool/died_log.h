#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "docker/docker_client.h"
#include "pool/pool.h"

namespace gantry::pool {

// A line of the engine's log read with timestamps=true ("2026-01-02T15:04:05.123456789Z
// text"): its time (to the microsecond; epoch when the line has no timestamp, then the
// whole line is the text) and text, without the trailing newline.
LogLine ParseTimestampedLine(docker::Stream stream, std::string_view line);

// The last `n` lines of container `id`'s log (both streams, oldest first), read from the
// engine with timestamps. Empty when the engine cannot say (the error is logged). Engine
// call: never under a function's lock.
std::vector<LogLine> ReadDiedLog(docker::DockerClient& docker, const std::string& id, int n);

}  // namespace gantry::pool
