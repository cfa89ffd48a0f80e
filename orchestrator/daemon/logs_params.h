#pragma once

#include <chrono>
#include <string>

#include "core/result.h"
#include "daemon/function_logs.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// Reads the query both logs routes share: tail (a whole number; <= 0: all), since
// (RFC 3339, or with `allow_duration` a duration back from `now`), follow ("true"/"1"),
// instance. kInvalidArgument naming the parameter otherwise.
core::Result<LogsRequest> ParseLogsRequest(const gateway::ApiRequest& request, bool allow_duration,
                                           std::chrono::system_clock::time_point now);

}  // namespace gantry::daemon
