#pragma once

#include <vector>

#include "daemon/controller.h"
#include "daemon/function_logs.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// The OpenFaaS gateway's management API, so that faas-cli and other OpenFaaS clients work
// (field names and status codes as in OpenFaaS's API spec), one file per resource; each
// file's header states its routes' answers:
//   functions (openfaas_functions.h)
//     GET    /system/functions[?namespace=]          [FunctionStatus]
//     POST   /system/functions                       FunctionDeployment -> 202
//     PUT    /system/functions                       FunctionDeployment -> 200, 404
//     DELETE /system/functions                       {"functionName"} -> 200, 404
//     GET    /system/function/{name}[?namespace=]    FunctionStatus, 404
//     POST   /system/scale-function/{name}           {"serviceName", "replicas"} -> 202, 404
//   logs (openfaas_logs.h)
//     GET    /system/logs?name=[&follow=true]        NDJSON LogEntry lines (FunctionLogs)
//   system (openfaas_system.h)
//     GET    /system/info, /system/namespaces
//   secrets (openfaas_secrets.h)
//     GET/POST/PUT/DELETE /system/secrets            names only on GET; 201 / 200 / 204
// A function name may carry its namespace as "name.namespace" (openfaas_names.h).
std::vector<gateway::Route> OpenFaasRoutes(Controller& controller, FunctionLogs& logs);

}  // namespace gantry::daemon
