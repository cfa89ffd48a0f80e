#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/function_logs.h"
#include "gateway/backend.h"

namespace gantry::daemon::resource {

// GET /apis/gantry/v1/namespaces/{ns}/functions/{name}/logs?tail=&since=&follow=&instance=
// (`gantry logs`): 200 NDJSON of GantryLogLine, the function's last `tail` lines (all
// replicas together; <= 0: all) since `since` (RFC 3339 or a duration back from now, "10m");
// with follow=true the answer then streams new lines until the client goes. `prefix` is
// accepted and changes nothing (the replica is in every line; the CLI prints it).
// kInvalidArgument for a bad tail or since; kNotFound for an unknown function.
core::Result<gateway::ApiResponse> GetFunctionLogs(FunctionLogs& logs,
                                                   const gateway::ApiRequest& request);

std::vector<gateway::Route> LogRoutes(FunctionLogs& logs);

}  // namespace gantry::daemon::resource
