#pragma once

#include <string>
#include <utility>

#include "gateway/backend.h"

namespace gantry::daemon::openfaas {

// How the OpenFaaS API names a function or secret: "name.namespace", or a name plus a
// namespace given apart (?namespace= or a body field), "default" when neither says.

inline constexpr const char* kDefaultNamespace = "default";

// {name, namespace}: the part after the first '.' of `name` is the namespace unless `ns`
// is given; then `ns`, then "default".
std::pair<std::string, std::string> NameAndNamespace(std::string name, std::string ns);

// ?namespace= of the request, or "default".
std::string QueryNamespaceOrDefault(const gateway::ApiRequest& request);

}  // namespace gantry::daemon::openfaas
