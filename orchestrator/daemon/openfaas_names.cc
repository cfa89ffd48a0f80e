#include "daemon/openfaas_names.h"

#include "daemon/api_support.h"

namespace gantry::daemon::openfaas {

std::pair<std::string, std::string> NameAndNamespace(std::string name, std::string ns) {
  if (auto dot = name.find('.'); dot != std::string::npos) {
    if (ns.empty()) ns = name.substr(dot + 1);
    name.resize(dot);
  }
  return {name, ns.empty() ? kDefaultNamespace : ns};
}

std::string QueryNamespaceOrDefault(const gateway::ApiRequest& request) {
  std::string ns = QueryParam(request, "namespace");
  return ns.empty() ? kDefaultNamespace : ns;
}

}  // namespace gantry::daemon::openfaas
