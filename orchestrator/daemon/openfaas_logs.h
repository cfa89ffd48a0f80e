#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/function_logs.h"
#include "gateway/backend.h"

namespace gantry::daemon::openfaas {

// GET /system/logs?name=[&namespace=][&instance=][&tail=N][&since=RFC 3339][&follow=true]
// as faas-cli logs sends it: 200 NDJSON of OpenFaaS LogEntry lines (OpenFaasLogLine), the
// last `tail` of the function (<= 0: all) since `since`; with follow=true the answer then
// streams new lines as they come (chunked) until the client goes. kInvalidArgument without
// a name, for a `since` that is not an RFC 3339 time or a `tail` that is not a number;
// kNotFound for an unknown function.
core::Result<gateway::ApiResponse> GetLogs(FunctionLogs& logs, const gateway::ApiRequest& request);

// The route above.
std::vector<gateway::Route> LogRoutes(FunctionLogs& logs);

}  // namespace gantry::daemon::openfaas
