#include "daemon/openfaas_system.h"

#include <algorithm>

#include "core/version.h"
#include "daemon/api_support.h"
#include "daemon/openfaas_names.h"

namespace gantry::daemon::openfaas {

using nlohmann::json;

core::Result<gateway::ApiResponse> GetInfo(const gateway::ApiRequest&) {
  // The commit this gantryd was built from, as OpenFaaS's gateway gives its own.
  json version = {{"sha", std::string(core::Revision())}, {"release", std::string(core::kVersion)}};
  return JsonResponse(
      200,
      {{"provider", {{"provider", "gantry"}, {"orchestration", "docker"}, {"version", version}}},
       {"version", version},
       {"arch", "x86_64"}});
}

core::Result<gateway::ApiResponse> ListNamespaces(Controller& c, const gateway::ApiRequest&) {
  auto ns = c.Namespaces();
  if (!ns) return ns.error();
  std::vector<std::string> out = *ns;
  if (std::find(out.begin(), out.end(), kDefaultNamespace) == out.end()) {
    out.insert(out.begin(), kDefaultNamespace);
  }
  return JsonResponse(200, out);
}

std::vector<gateway::Route> SystemRoutes(Controller& c) {
  return {
      {"GET", "/system/info", GetInfo},
      {"GET", "/system/namespaces",
       [&c](const gateway::ApiRequest& r) { return ListNamespaces(c, r); }},
  };
}

}  // namespace gantry::daemon::openfaas
