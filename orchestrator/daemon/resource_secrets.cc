#include "daemon/resource_secrets.h"

#include "daemon/api_support.h"

namespace gantry::daemon::resource {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;

const char* OutcomeName(store::PutOutcome outcome) {
  switch (outcome) {
    case store::PutOutcome::kCreated:
      return "created";
    case store::PutOutcome::kConfigured:
      return "configured";
    case store::PutOutcome::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

}  // namespace

core::Result<ApiResponse> PutSecret(Controller& c, const ApiRequest& r) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  if (!body->contains("value") || !(*body)["value"].is_string()) {
    return core::Error::InvalidArgument("\"value\" must be a string");
  }
  std::string ns = PathParam(r, "ns");
  std::string name = PathParam(r, "name");
  auto put = c.PutSecret(ns, name, (*body)["value"].get<std::string>());
  if (!put) return put.error();
  return JsonResponse(*put == store::PutOutcome::kCreated ? 201 : 200,
                      {{"namespace", ns}, {"name", name}, {"result", OutcomeName(*put)}});
}

core::Result<ApiResponse> DeleteSecret(Controller& c, const ApiRequest& r) {
  std::string ns = PathParam(r, "ns");
  std::string name = PathParam(r, "name");
  if (auto s = c.DeleteSecret(ns, name); !s) return s.error();
  return JsonResponse(200, {{"namespace", ns}, {"name", name}, {"result", "deleted"}});
}

core::Result<ApiResponse> ListSecrets(Controller& c, const ApiRequest& r) {
  auto list = c.ListSecrets(PathParam(r, "ns"));
  if (!list) return list.error();
  return JsonResponse(200, {{"kind", "SecretList"}, {"items", *list}});
}

std::vector<gateway::Route> SecretRoutes(Controller& c) {
  auto with = [&c](auto handler) {
    return [&c, handler](const ApiRequest& r) { return handler(c, r); };
  };
  std::string secret = "/apis/gantry/v1/namespaces/{ns}/secrets/{name}";
  return {
      {"PUT", secret, with(PutSecret)},
      {"DELETE", secret, with(DeleteSecret)},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/secrets", with(ListSecrets)},
  };
}

}  // namespace gantry::daemon::resource
