#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::openfaas {

// The OpenFaaS secrets resource (/system/secrets), one handler per route. A secret is
// named by "name" (or "name.namespace") and "namespace" in the body, ?namespace= on GET.
// Errors are the controller's, or kInvalidArgument for a malformed request.

// GET /system/secrets[?namespace=]: 200 [{"name", "namespace"}]: never values.
core::Result<gateway::ApiResponse> ListSecrets(Controller& controller,
                                               const gateway::ApiRequest& request);

// POST /system/secrets {"name", "value"}: 201 {"name", "namespace"}. kInvalidArgument
// without a name or with a value that is not a string (rawValue is not supported).
core::Result<gateway::ApiResponse> CreateSecret(Controller& controller,
                                                const gateway::ApiRequest& request);

// PUT /system/secrets {"name", "value"}: 200, or 404 when the secret is unknown; otherwise
// as CreateSecret.
core::Result<gateway::ApiResponse> UpdateSecret(Controller& controller,
                                                const gateway::ApiRequest& request);

// DELETE /system/secrets {"name"}: 204; kNotFound; kConflict while a function uses it.
core::Result<gateway::ApiResponse> DeleteSecret(Controller& controller,
                                                const gateway::ApiRequest& request);

// The routes above.
std::vector<gateway::Route> SecretRoutes(Controller& controller);

}  // namespace gantry::daemon::openfaas
