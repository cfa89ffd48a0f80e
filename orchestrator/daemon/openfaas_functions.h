#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"
#include "spec/function_spec.h"

namespace gantry::daemon::openfaas {

// The OpenFaaS functions resource (/system/functions, /system/function/{name},
// /system/scale-function/{name}; field names and status codes as in OpenFaaS's API spec),
// one handler per route. An OpenFaaS deployment is a `runtime: image` function serving
// HTTP on port 8080 (the watchdog's), with envProcess as `fprocess`;
// com.openfaas.scale.min/max labels set the scale. Errors are the controller's, or
// kInvalidArgument for a malformed request.

// FunctionDeployment -> a Function, validated like any manifest. kInvalidArgument without
// "service", or listing every validation error.
core::Result<spec::FunctionSpec> SpecFromDeployment(const nlohmann::json& deployment);

// Controller::Describe()'s JSON -> a FunctionStatus.
nlohmann::json FunctionStatus(const nlohmann::json& described);

// GET /system/functions[?namespace=]: 200 [FunctionStatus].
core::Result<gateway::ApiResponse> ListFunctions(Controller& controller,
                                                 const gateway::ApiRequest& request);

// POST /system/functions FunctionDeployment: 202 with the apply's outcome.
core::Result<gateway::ApiResponse> DeployFunction(Controller& controller,
                                                  const gateway::ApiRequest& request);

// PUT /system/functions FunctionDeployment: 200, or 404 when the function is unknown
// (faas-cli deploy then falls back to POST).
core::Result<gateway::ApiResponse> UpdateFunction(Controller& controller,
                                                  const gateway::ApiRequest& request);

// DELETE /system/functions {"functionName"[, "namespace"]}: 200; kNotFound when unknown,
// kInvalidArgument without functionName.
core::Result<gateway::ApiResponse> DeleteFunction(Controller& controller,
                                                  const gateway::ApiRequest& request);

// GET /system/function/{name}[?namespace=]: 200 FunctionStatus; kNotFound.
core::Result<gateway::ApiResponse> GetFunction(Controller& controller,
                                               const gateway::ApiRequest& request);

// POST /system/scale-function/{name} {"serviceName", "replicas"[, "namespace"]}: 202;
// kNotFound; kInvalidArgument for replicas malformed or outside the function's bounds.
core::Result<gateway::ApiResponse> ScaleFunction(Controller& controller,
                                                 const gateway::ApiRequest& request);

// The routes above.
std::vector<gateway::Route> FunctionRoutes(Controller& controller);

}  // namespace gantry::daemon::openfaas
