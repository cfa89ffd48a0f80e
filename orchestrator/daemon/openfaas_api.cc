#include "daemon/openfaas_api.h"

#include "daemon/openfaas_functions.h"
#include "daemon/openfaas_logs.h"
#include "daemon/openfaas_secrets.h"
#include "daemon/openfaas_system.h"

namespace gantry::daemon {

std::vector<gateway::Route> OpenFaasRoutes(Controller& controller, FunctionLogs& logs) {
  std::vector<gateway::Route> routes;
  for (auto* family :
       {&openfaas::FunctionRoutes, &openfaas::SystemRoutes, &openfaas::SecretRoutes}) {
    for (auto& r : family(controller)) routes.push_back(std::move(r));
  }
  for (auto& r : openfaas::LogRoutes(logs)) routes.push_back(std::move(r));
  return routes;
}

}  // namespace gantry::daemon
