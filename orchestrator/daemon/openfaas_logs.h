#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::openfaas {

// GET /system/logs?name=[&namespace=][&tail=N][&since=RFC 3339]: 200 NDJSON of OpenFaaS
// LogEntry lines (Controller::Logs). kInvalidArgument without a name or for a `since` that
// is not an RFC 3339 time; kNotFound for an unknown function.
core::Result<gateway::ApiResponse> GetLogs(Controller& controller,
                                           const gateway::ApiRequest& request);

// The route above.
std::vector<gateway::Route> LogRoutes(Controller& controller);

}  // namespace gantry::daemon::openfaas
