#pragma once

#include <vector>

#include "builder/bundle_limits.h"
#include "core/result.h"
#include "daemon/apply_stream.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::resource {

// Gantry's functions resource (/apis/gantry/v1), one handler per route. Each translates the
// request into one Controller call and its outcome into the answer; a returned error is
// the controller's (or kInvalidArgument for a malformed request), mapped by the gateway.

// PUT /apis/gantry/v1/namespaces/{ns}/functions/{name}: apply. The body is a function
// bundle (a tar, see builder/bundle.h, plain or gzip-compressed): 201 created, 200
// configured or unchanged; ?dryRun=server validates only (200 "valid"). An empty body with
// header X-Gantry-Bundle-Digest: 200 "unchanged" when it matches what runs, else 412 with
// "limits" (the bundle limits, so the client can check before it sends). 413
// (BundleTooLarge's JSON) for a bundle over `limits`; kInvalidArgument for one that is not
// a bundle or unpacks past its limit.
// With `background` and the request asking for progress (`Accept: application/x-ndjson`
// or `?progress=1`), the checks above answer as said, and then the apply runs on a
// `background` thread while the answer (200, application/x-ndjson) streams its build
// progress and, last, its outcome (ApplyProgressStream); the client going away does not
// stop the apply.
core::Result<gateway::ApiResponse> ApplyFunction(Controller& controller,
                                                 const builder::BundleLimits& limits,
                                                 const gateway::ApiRequest& request,
                                                 BackgroundWork* background = nullptr);

// GET .../namespaces/{ns}/functions/{name}: 200 Controller::Describe's JSON.
core::Result<gateway::ApiResponse> GetFunction(Controller& controller,
                                               const gateway::ApiRequest& request);

// GET .../namespaces/{ns}/functions: 200 Controller::List(ns) (a FunctionList).
core::Result<gateway::ApiResponse> ListFunctions(Controller& controller,
                                                 const gateway::ApiRequest& request);

// GET /apis/gantry/v1/functions: 200 the FunctionList of every namespace.
core::Result<gateway::ApiResponse> ListAllFunctions(Controller& controller,
                                                    const gateway::ApiRequest& request);

// DELETE .../namespaces/{ns}/functions/{name}: drain and remove; 200 {"result": "deleted"}.
core::Result<gateway::ApiResponse> DeleteFunction(Controller& controller,
                                                  const gateway::ApiRequest& request);

// PUT .../namespaces/{ns}/functions/{name}/scale {"replicas": N}: 200 {"name", "replicas"};
// kInvalidArgument for a malformed N (ReplicasField) or one outside scale.min..scale.max
// (naming the bounds).
core::Result<gateway::ApiResponse> ScaleFunction(Controller& controller,
                                                 const gateway::ApiRequest& request);

// The routes above.
std::vector<gateway::Route> FunctionRoutes(Controller& controller, builder::BundleLimits limits);

}  // namespace gantry::daemon::resource
