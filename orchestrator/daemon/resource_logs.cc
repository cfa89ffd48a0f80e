#include "daemon/resource_logs.h"

#include "daemon/api_support.h"
#include "daemon/logs_params.h"

namespace gantry::daemon::resource {

core::Result<gateway::ApiResponse> GetFunctionLogs(FunctionLogs& logs,
                                                   const gateway::ApiRequest& r) {
  auto request = ParseLogsRequest(r, /*allow_duration=*/true, logs.now());
  if (!request) return request.error();
  return logs.Answer(PathParam(r, "ns"), PathParam(r, "name"), *request, GantryLogLine);
}

std::vector<gateway::Route> LogRoutes(FunctionLogs& logs) {
  return {{"GET", "/apis/gantry/v1/namespaces/{ns}/functions/{name}/logs",
           [&logs](const gateway::ApiRequest& r) { return GetFunctionLogs(logs, r); }}};
}

}  // namespace gantry::daemon::resource
