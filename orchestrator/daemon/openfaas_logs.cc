#include "daemon/openfaas_logs.h"

#include "daemon/api_support.h"
#include "daemon/logs_params.h"
#include "daemon/openfaas_names.h"

namespace gantry::daemon::openfaas {

core::Result<gateway::ApiResponse> GetLogs(FunctionLogs& logs, const gateway::ApiRequest& r) {
  auto [name, ns] = NameAndNamespace(QueryParam(r, "name"), QueryParam(r, "namespace"));
  if (name.empty()) return core::Error::InvalidArgument("?name= is required");
  auto request = ParseLogsRequest(r, /*allow_duration=*/false, logs.now());
  if (!request) return request.error();
  return logs.Answer(ns, name, *request, [ns = ns, name = name](const logstore::LogEntry& e) {
    return OpenFaasLogLine(ns, name, e);
  });
}

std::vector<gateway::Route> LogRoutes(FunctionLogs& logs) {
  return {
      {"GET", "/system/logs", [&logs](const gateway::ApiRequest& r) { return GetLogs(logs, r); }}};
}

}  // namespace gantry::daemon::openfaas
