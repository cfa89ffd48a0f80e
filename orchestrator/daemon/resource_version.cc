#include "daemon/resource_version.h"

#include "core/version.h"
#include "daemon/api_support.h"

namespace gantry::daemon::resource {

core::Result<gateway::ApiResponse> GetVersion(docker::DockerClient& docker,
                                              const gateway::ApiRequest&) {
  nlohmann::json engine = nullptr;
  if (auto v = docker.Version()) {
    engine = {{"version", v->version}, {"apiVersion", docker.ApiVersion()}};
  }
  return JsonResponse(200, {{"version", std::string(core::kVersion)},
                            {"apiVersion", "gantry.dev/v1"},
                            {"engine", engine}});
}

std::vector<gateway::Route> VersionRoutes(docker::DockerClient& docker) {
  return {{"GET", "/apis/gantry/v1/version",
           [&docker](const gateway::ApiRequest& r) { return GetVersion(docker, r); }}};
}

}  // namespace gantry::daemon::resource
