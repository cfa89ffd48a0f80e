#pragma once

#include <vector>

#include "core/result.h"
#include "docker/docker_client.h"
#include "gateway/backend.h"

namespace gantry::daemon::resource {

// GET /apis/gantry/v1/version: 200 {"version", "apiVersion": "gantry.dev/v1", "engine":
// {"version", "apiVersion"}}; "engine" is null when the engine does not answer. Never an
// error.
core::Result<gateway::ApiResponse> GetVersion(docker::DockerClient& docker,
                                              const gateway::ApiRequest& request);

// The route above.
std::vector<gateway::Route> VersionRoutes(docker::DockerClient& docker);

}  // namespace gantry::daemon::resource
