#pragma once

#include <vector>

#include "builder/bundle_limits.h"
#include "daemon/api_support.h"  // JsonResponse, ReplicasField: what callers of this header used
#include "daemon/controller.h"
#include "daemon/function_logs.h"
#include "docker/docker_client.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// Gantry's own resource API, used by the CLI (all routes need the bearer token), one file
// per resource; each file's header states its routes' answers:
//   functions (resource_functions.h)
//     PUT    /apis/gantry/v1/namespaces/{ns}/functions/{name}          apply a bundle
//     GET    /apis/gantry/v1/namespaces/{ns}/functions[/{name}]        list / describe
//     GET    /apis/gantry/v1/functions                                 list, every namespace
//     DELETE /apis/gantry/v1/namespaces/{ns}/functions/{name}          drain and remove
//     PUT    /apis/gantry/v1/namespaces/{ns}/functions/{name}/scale    {"replicas": N}
//   secrets (resource_secrets.h)
//     PUT    /apis/gantry/v1/namespaces/{ns}/secrets/{name}            {"value": "..."}
//     GET    /apis/gantry/v1/namespaces/{ns}/secrets                   names only
//     DELETE /apis/gantry/v1/namespaces/{ns}/secrets/{name}
//   logs (resource_logs.h)
//     GET    /apis/gantry/v1/namespaces/{ns}/functions/{name}/logs     NDJSON lines, follow
//   version (resource_version.h)
//     GET    /apis/gantry/v1/version
std::vector<gateway::Route> ResourceRoutes(Controller& controller, docker::DockerClient& docker,
                                           FunctionLogs& logs, builder::BundleLimits limits = {});

}  // namespace gantry::daemon
