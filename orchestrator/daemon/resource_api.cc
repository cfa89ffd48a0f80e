#include "daemon/resource_api.h"

#include <fmt/format.h>

#include <cstdint>

#include "builder/bundle.h"
#include "core/version.h"

namespace gantry::daemon {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

constexpr const char* kPrefix = "/apis/gantry/v1";

std::string Param(const ApiRequest& r, const char* key) {
  auto it = r.params.find(key);
  return it == r.params.end() ? "" : it->second;
}

std::string Header(const ApiRequest& r, const char* key) {
  auto it = r.headers.find(key);
  return it == r.headers.end() ? "" : it->second;
}

core::Result<json> JsonBody(const ApiRequest& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return core::Error::InvalidArgument("the body must be a JSON object");
  return j;
}

}  // namespace

core::Result<int64_t> ReplicasField(const json& body) {
  auto it = body.find("replicas");
  if (it == body.end() || !it->is_number_integer()) return core::Error::InvalidArgument("\"replicas\" must be an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return core::Error::InvalidArgument(fmt::format("\"replicas\" {} is out of range", it->get<uint64_t>()));
  }
  return it->get<int64_t>();
}

ApiResponse JsonResponse(int status, const json& body) {
  return ApiResponse{.status = status, .body = body.dump() + "\n"};
}

std::vector<gateway::Route> ResourceRoutes(Controller& c, docker::DockerClient& docker,
                                           builder::BundleLimits limits) {
  std::string fn = std::string(kPrefix) + "/namespaces/{ns}/functions/{name}";
  std::string secret = std::string(kPrefix) + "/namespaces/{ns}/secrets/{name}";
  std::vector<gateway::Route> routes;

  routes.push_back({"PUT", fn, [&c, limits](const ApiRequest& r) -> core::Result<ApiResponse> {
                      std::string ns = Param(r, "ns");
                      std::string name = Param(r, "name");
                      if (r.body.empty()) {
                        std::string digest = Header(r, "x-gantry-bundle-digest");
                        if (auto unchanged = c.Unchanged(ns, name, digest)) {
                          ApplyOutcome o{.result = "unchanged", .generation = unchanged->generation,
                                         .image = unchanged->image, .digest = digest};
                          return JsonResponse(200, o.ToJson(ns, name));
                        }
                        return JsonResponse(412, {{"error", "the function is new or changed: send its bundle"},
                                                  {"limits", limits.ToJson()}});
                      }
                      // Checked before anything is written to disk; a gzip bundle is unpacked
                      // only as far as the limit (file bytes plus room for tar headers).
                      std::size_t bound = limits.max_unpacked + limits.max_unpacked / 8 + (std::size_t{1} << 20);
                      auto tar = builder::UncompressBundle(r.body, bound);
                      if (!tar) return tar.error();
                      auto unpacked = tar->truncated ? core::Result<std::uint64_t>(std::uint64_t{bound})
                                                     : builder::BundleUnpackedSize(tar->tar);
                      if (!unpacked) return unpacked.error();
                      if (auto over = builder::CheckBundleSize(r.body.size(), *unpacked, limits)) {
                        return JsonResponse(413, over->ToJson());
                      }
                      if (tar->truncated) return core::Error::InvalidArgument("bundle: unpacks past its limit");
                      auto dry = r.query.find("dryRun");
                      auto outcome =
                          c.ApplyBundle(ns, name, tar->tar, dry != r.query.end() && dry->second == "server");
                      if (!outcome) return outcome.error();
                      return JsonResponse(outcome->result == "created" ? 201 : 200, outcome->ToJson(ns, name));
                    }});
  routes.push_back({"GET", fn, [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto d = c.Describe(Param(r, "ns"), Param(r, "name"));
                      if (!d) return d.error();
                      return JsonResponse(200, *d);
                    }});
  routes.push_back({"DELETE", fn, [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      if (auto s = c.Delete(Param(r, "ns"), Param(r, "name")); !s) return s.error();
                      return JsonResponse(200, {{"namespace", Param(r, "ns")}, {"name", Param(r, "name")},
                                                {"result", "deleted"}});
                    }});
  routes.push_back({"PUT", fn + "/scale", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto body = JsonBody(r);
                      if (!body) return body.error();
                      auto n = ReplicasField(*body);
                      if (!n) return n.error();
                      if (auto s = c.Scale(Param(r, "ns"), Param(r, "name"), *n); !s) return s.error();
                      return JsonResponse(200, {{"name", Param(r, "name")}, {"replicas", *n}});
                    }});
  routes.push_back({"GET", std::string(kPrefix) + "/namespaces/{ns}/functions",
                    [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto list = c.List(Param(r, "ns"));
                      if (!list) return list.error();
                      return JsonResponse(200, *list);
                    }});
  routes.push_back({"GET", std::string(kPrefix) + "/functions", [&c](const ApiRequest&) -> core::Result<ApiResponse> {
                      auto list = c.List("");
                      if (!list) return list.error();
                      return JsonResponse(200, *list);
                    }});

  routes.push_back({"PUT", secret, [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto body = JsonBody(r);
                      if (!body) return body.error();
                      if (!body->contains("value") || !(*body)["value"].is_string()) {
                        return core::Error::InvalidArgument("\"value\" must be a string");
                      }
                      auto put = c.PutSecret(Param(r, "ns"), Param(r, "name"), (*body)["value"].get<std::string>());
                      if (!put) return put.error();
                      const char* result = *put == store::PutOutcome::kCreated      ? "created"
                                           : *put == store::PutOutcome::kConfigured ? "configured"
                                                                                    : "unchanged";
                      return JsonResponse(*put == store::PutOutcome::kCreated ? 201 : 200,
                                          {{"namespace", Param(r, "ns")}, {"name", Param(r, "name")},
                                           {"result", result}});
                    }});
  routes.push_back({"DELETE", secret, [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      if (auto s = c.DeleteSecret(Param(r, "ns"), Param(r, "name")); !s) return s.error();
                      return JsonResponse(200, {{"namespace", Param(r, "ns")}, {"name", Param(r, "name")},
                                                {"result", "deleted"}});
                    }});
  routes.push_back({"GET", std::string(kPrefix) + "/namespaces/{ns}/secrets",
                    [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto list = c.ListSecrets(Param(r, "ns"));
                      if (!list) return list.error();
                      return JsonResponse(200, {{"kind", "SecretList"}, {"items", *list}});
                    }});
  routes.push_back({"GET", std::string(kPrefix) + "/version", [&docker](const ApiRequest&) -> core::Result<ApiResponse> {
                      json engine = nullptr;
                      if (auto v = docker.Version()) {
                        engine = {{"version", v->version}, {"apiVersion", docker.ApiVersion()}};
                      }
                      return JsonResponse(200, {{"version", std::string(core::kVersion)},
                                                {"apiVersion", "gantry.dev/v1"},
                                                {"engine", engine}});
                    }});
  return routes;
}

}  // namespace gantry::daemon
