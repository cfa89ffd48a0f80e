#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::resource {

// Gantry's secrets resource (/apis/gantry/v1/namespaces/{ns}/secrets), one handler per
// route; errors are the controller's or kInvalidArgument for a malformed request.

// PUT .../secrets/{name} {"value": "..."}: 201 created, 200 configured or unchanged, with
// {"namespace", "name", "result"}. kInvalidArgument when "value" is not a string.
core::Result<gateway::ApiResponse> PutSecret(Controller& controller,
                                             const gateway::ApiRequest& request);

// DELETE .../secrets/{name}: 200 {"result": "deleted"}; kConflict while a function uses it.
core::Result<gateway::ApiResponse> DeleteSecret(Controller& controller,
                                                const gateway::ApiRequest& request);

// GET .../secrets: 200 {"kind": "SecretList", "items": [{"namespace", "name", "createdAt",
// "updatedAt"}]}: never values.
core::Result<gateway::ApiResponse> ListSecrets(Controller& controller,
                                               const gateway::ApiRequest& request);

// The routes above.
std::vector<gateway::Route> SecretRoutes(Controller& controller);

}  // namespace gantry::daemon::resource
