#pragma once

#include <vector>

#include "builder/bundle_limits.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// Gantry's own resource API, used by the CLI (all routes need the bearer token):
//   PUT    /apis/gantry/v1/namespaces/{ns}/functions/{name}   apply: body = function bundle
//          (a tar, see builder/bundle.h, plain or gzip-compressed); or an empty body with header
//          X-Gantry-Bundle-Digest: 200 "unchanged" when it matches, 412 when the bundle is
//          needed (with "limits": the bundle limits, so the client can check before it
//          sends); ?dryRun=server validates only; 413 (BundleTooLarge's JSON) for a bundle
//          over `limits`
//   GET    /apis/gantry/v1/namespaces/{ns}/functions[/{name}] list / describe
//   GET    /apis/gantry/v1/functions                          list, every namespace
//   DELETE /apis/gantry/v1/namespaces/{ns}/functions/{name}   drain and remove
//   PUT    /apis/gantry/v1/namespaces/{ns}/functions/{name}/scale   {"replicas": N}: 400
//          naming the bounds unless scale.min <= N <= scale.max
//   PUT    /apis/gantry/v1/namespaces/{ns}/secrets/{name}     {"value": "..."}
//   GET    /apis/gantry/v1/namespaces/{ns}/secrets            names only
//   DELETE /apis/gantry/v1/namespaces/{ns}/secrets/{name}
//   GET    /apis/gantry/v1/version
std::vector<gateway::Route> ResourceRoutes(Controller& controller, docker::DockerClient& docker,
                                           builder::BundleLimits limits = {});

// A JSON answer.
gateway::ApiResponse JsonResponse(int status, const nlohmann::json& body);

// body["replicas"] as a whole number (both APIs' scale calls): kInvalidArgument when it is
// missing, not an integer, or beyond a signed 64-bit integer — never truncated. Whether it
// is within the function's bounds is Controller::Scale's to say.
core::Result<int64_t> ReplicasField(const nlohmann::json& body);

}  // namespace gantry::daemon
