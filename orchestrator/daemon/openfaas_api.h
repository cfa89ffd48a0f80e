#pragma once

#include <vector>

#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// The OpenFaaS gateway's management API, so that faas-cli and other OpenFaaS clients work
// (field names and status codes as in OpenFaaS's API spec):
//   GET    /system/functions[?namespace=]          [FunctionStatus]
//   POST   /system/functions                       FunctionDeployment -> 202
//   PUT    /system/functions                       FunctionDeployment -> 200, 404 when unknown
//                                                  (faas-cli deploy then falls back to POST)
//   DELETE /system/functions                       {"functionName"} -> 200, 404
//   GET    /system/function/{name}[?namespace=]    FunctionStatus, 404
//   POST   /system/scale-function/{name}           {"serviceName", "replicas"} -> 202, 404
//   GET    /system/info, /system/namespaces
//   GET/POST/PUT/DELETE /system/secrets            names only on GET; 201 / 200 / 204
// A function name may carry its namespace as "name.namespace". An OpenFaaS deployment is a
// `runtime: image` function serving HTTP on port 8080 (the watchdog's), with envProcess
// as `fprocess`; com.openfaas.scale.min/max labels set the scale.
std::vector<gateway::Route> OpenFaasRoutes(Controller& controller);

}  // namespace gantry::daemon
