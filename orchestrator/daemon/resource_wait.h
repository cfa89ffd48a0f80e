#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::resource {

// POST /apis/gantry/v1/namespaces/{ns}/functions/{name}/wait?timeout=90s: proves the
// function runs. With a ready replica: 200 at once. Otherwise one slot is acquired through
// the pool, which starts a replica (scale.min 0 included), and the lease is dropped at
// once (the replica then idles out as usual). 200 {"phase": "Ready", "readyReplicas",
// "coldStart"}; when the replica dies or fails to start: 503, when no replica is ready
// within the timeout: 504, when the function cannot run (Building, BuildFailed): 409 —
// each {"error": the reason in user terms, "phase", "lastLines": [the failed replica's last
// log lines]}. timeout: a duration (default 90s, at most 10m); kInvalidArgument for a
// malformed one; kNotFound for an unknown function.
core::Result<gateway::ApiResponse> WaitFunction(Controller& controller,
                                                const gateway::ApiRequest& request);

// The route above.
std::vector<gateway::Route> WaitRoutes(Controller& controller);

}  // namespace gantry::daemon::resource
