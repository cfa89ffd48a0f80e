#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "builder/builder.h"
#include "core/result.h"
#include "pool/pool.h"
#include "spec/function_spec.h"

namespace gantry::daemon {

// OpenFaaS's default com.openfaas.scale.target.
inline constexpr double kOpenFaasDefaultTarget = 50;

// The calls per second per replica the labels ask the autoscaler to aim at:
// com.openfaas.scale.type=rps (or a com.openfaas.scale.target alone, rps being OpenFaaS's
// default type) with com.openfaas.scale.target (default 50); 0 (scale on in-flight calls)
// otherwise.
double TargetRps(const std::map<std::string, std::string>& labels);

// The pool's view of a function: from its validated spec, the image the builder made,
// its generation and its secrets' values.
pool::Deployment DeploymentFor(const spec::FunctionSpec& spec, const builder::BuiltImage& image,
                               int64_t generation,
                               const std::map<std::string, std::string>& secret_values);

// Stored with the function so that a restarted gantryd runs it without rebuilding. Secret
// values are never stored here (only the names); they are read again on load.
nlohmann::json DeploymentToJson(const pool::Deployment& d);
// kInternal when the JSON is not a deployment.
core::Result<pool::Deployment> DeploymentFromJson(const nlohmann::json& j);

}  // namespace gantry::daemon
