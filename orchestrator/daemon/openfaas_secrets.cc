#include "daemon/openfaas_secrets.h"

#include <fmt/format.h>

#include "core/base64.h"
#include "daemon/api_support.h"
#include "daemon/openfaas_names.h"

namespace gantry::daemon::openfaas {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

// POST (create) or PUT (update) of a secret.
core::Result<ApiResponse> Put(Controller& c, const ApiRequest& r, bool update) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto [name, ns] = NameAndNamespace(StringField(*body, "name"), StringField(*body, "namespace"));
  if (name.empty()) return core::Error::InvalidArgument("\"name\" is required");
  // OpenFaaS's Secret: `value` (text) or `rawValue` (bytes, base64 in JSON, as Go encodes
  // []byte); rawValue wins when both are given, as in OpenFaaS's providers.
  std::string value;
  if (auto raw = body->find("rawValue"); raw != body->end() && !raw->is_null()) {
    if (!raw->is_string()) {
      return core::Error::InvalidArgument("\"rawValue\" must be base64 bytes in a string");
    }
    auto bytes = core::Base64Decode(raw->get<std::string>());
    if (!bytes) return core::Error::InvalidArgument("\"rawValue\" is not valid base64");
    value = std::move(*bytes);
  } else if (auto text = body->find("value"); text != body->end() && text->is_string()) {
    value = text->get<std::string>();
  } else {
    return core::Error::InvalidArgument(
        "\"value\" (a string) or \"rawValue\" (base64) is required");
  }
  auto existing = c.ListSecrets(ns);
  if (!existing) return existing.error();
  bool found = false;
  for (const auto& s : *existing) found = found || s["name"] == name;
  if (update && !found) {
    return core::Error::NotFound(fmt::format("secret {} not found in namespace {}", name, ns));
  }
  if (!update && found) {  // faas-cli says "already exists" on 409
    return core::Error::AlreadyExists(
        fmt::format("secret {} already exists in namespace {}", name, ns));
  }
  auto put = c.PutSecret(ns, name, value);
  if (!put) return put.error();
  return JsonResponse(update ? 200 : 201, {{"name", name}, {"namespace", ns}});
}

}  // namespace

core::Result<ApiResponse> ListSecrets(Controller& c, const ApiRequest& r) {
  auto list = c.ListSecrets(QueryNamespaceOrDefault(r));
  if (!list) return list.error();
  json out = json::array();
  for (const auto& s : *list) out.push_back({{"name", s["name"]}, {"namespace", s["namespace"]}});
  return JsonResponse(200, out);
}

core::Result<ApiResponse> CreateSecret(Controller& c, const ApiRequest& r) {
  return Put(c, r, /*update=*/false);
}

core::Result<ApiResponse> UpdateSecret(Controller& c, const ApiRequest& r) {
  return Put(c, r, /*update=*/true);
}

core::Result<ApiResponse> DeleteSecret(Controller& c, const ApiRequest& r) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto [name, ns] = NameAndNamespace(StringField(*body, "name"), StringField(*body, "namespace"));
  if (auto s = c.DeleteSecret(ns, name); !s) return s.error();
  // 200, as OpenFaaS's providers answer (faas-cli takes 200 or 202, and 204 as an error).
  return ApiResponse{.status = 200, .body = ""};
}

std::vector<gateway::Route> SecretRoutes(Controller& c) {
  auto with = [&c](auto handler) {
    return [&c, handler](const ApiRequest& r) { return handler(c, r); };
  };
  return {
      {"GET", "/system/secrets", with(ListSecrets)},
      {"POST", "/system/secrets", with(CreateSecret)},
      {"PUT", "/system/secrets", with(UpdateSecret)},
      {"DELETE", "/system/secrets", with(DeleteSecret)},
  };
}

}  // namespace gantry::daemon::openfaas
