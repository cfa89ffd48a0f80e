#include "daemon/openfaas_logs.h"

#include <chrono>
#include <cstdlib>

#include "core/time_format.h"
#include "daemon/api_support.h"
#include "daemon/openfaas_names.h"

namespace gantry::daemon::openfaas {

core::Result<gateway::ApiResponse> GetLogs(Controller& c, const gateway::ApiRequest& r) {
  auto [name, ns] = NameAndNamespace(QueryParam(r, "name"), QueryParam(r, "namespace"));
  if (name.empty()) return core::Error::InvalidArgument("?name= is required");
  int64_t since = 0;
  if (std::string text = QueryParam(r, "since"); !text.empty()) {
    auto t = core::ParseUtc(text);
    if (!t) {
      return core::Error::InvalidArgument(
          "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z");
    }
    since = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  }
  auto logs = c.Logs(ns, name, std::atoll(QueryParam(r, "tail").c_str()), since);
  if (!logs) return logs.error();
  return gateway::ApiResponse{.status = 200, .content_type = "application/x-ndjson", .body = *logs};
}

std::vector<gateway::Route> LogRoutes(Controller& c) {
  return {{"GET", "/system/logs", [&c](const gateway::ApiRequest& r) { return GetLogs(c, r); }}};
}

}  // namespace gantry::daemon::openfaas
