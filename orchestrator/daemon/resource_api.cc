#include "daemon/resource_api.h"

#include "daemon/resource_functions.h"
#include "daemon/resource_logs.h"
#include "daemon/resource_secrets.h"
#include "daemon/resource_version.h"
#include "daemon/resource_wait.h"

namespace gantry::daemon {

std::vector<gateway::Route> ResourceRoutes(Controller& controller, docker::DockerClient& docker,
                                           FunctionLogs& logs, builder::BundleLimits limits) {
  std::vector<gateway::Route> routes = resource::FunctionRoutes(controller, limits);
  for (auto& r : resource::SecretRoutes(controller)) routes.push_back(std::move(r));
  for (auto& r : resource::VersionRoutes(docker)) routes.push_back(std::move(r));
  for (auto& r : resource::LogRoutes(logs)) routes.push_back(std::move(r));
  for (auto& r : resource::WaitRoutes(controller)) routes.push_back(std::move(r));
  return routes;
}

}  // namespace gantry::daemon
