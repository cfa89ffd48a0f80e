#pragma once

#include <vector>

#include "core/result.h"
#include "daemon/controller.h"
#include "gateway/backend.h"

namespace gantry::daemon::openfaas {

// GET /system/info: 200 {"provider": {"provider": "gantry", "orchestration": "docker",
// "version"}, "version": {"sha", "release"}, "arch"}. Never an error.
core::Result<gateway::ApiResponse> GetInfo(const gateway::ApiRequest& request);

// GET /system/namespaces: 200 the namespaces holding a function or secret (sorted), with
// "default" put first when it holds nothing; the store's errors.
core::Result<gateway::ApiResponse> ListNamespaces(Controller& controller,
                                                  const gateway::ApiRequest& request);

// The routes above.
std::vector<gateway::Route> SystemRoutes(Controller& controller);

}  // namespace gantry::daemon::openfaas
