#include "daemon/openfaas_api.h"

#include <fmt/format.h>

#include <ctime>

#include "builder/bundle.h"
#include "core/version.h"
#include "daemon/resource_api.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::daemon {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

constexpr const char* kDefaultNamespace = "default";

core::Result<json> Body(const ApiRequest& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return core::Error::InvalidArgument("the body must be a JSON object");
  return j;
}

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "name.namespace" or name + ?namespace= / body namespace, defaulting to "default".
std::pair<std::string, std::string> NameAndNamespace(std::string name, std::string ns) {
  if (auto dot = name.find('.'); dot != std::string::npos) {
    if (ns.empty()) ns = name.substr(dot + 1);
    name.resize(dot);
  }
  return {name, ns.empty() ? kDefaultNamespace : ns};
}

std::string QueryNamespace(const ApiRequest& r) {
  auto it = r.query.find("namespace");
  return it == r.query.end() ? "" : it->second;
}

// FunctionDeployment -> a manifest document, validated like any other.
core::Result<spec::FunctionSpec> SpecFromDeployment(const json& d) {
  auto [name, ns] = NameAndNamespace(StringField(d, "service"), StringField(d, "namespace"));
  if (name.empty()) return core::Error::InvalidArgument("\"service\" (the function name) is required");
  json spec = {{"runtime", "image"}, {"image", StringField(d, "image")}, {"port", 8080}};
  json env = json::object();
  if (auto it = d.find("envVars"); it != d.end() && it->is_object()) env = *it;
  if (std::string process = StringField(d, "envProcess"); !process.empty()) env["fprocess"] = process;
  if (!env.empty()) spec["env"] = env;
  if (auto it = d.find("secrets"); it != d.end() && it->is_array() && !it->empty()) spec["secrets"] = *it;
  json labels = json::object();
  json scale = json::object();
  if (auto it = d.find("labels"); it != d.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) continue;
      if (k == "com.openfaas.scale.min") {
        scale["min"] = std::atoi(v.get<std::string>().c_str());
      } else if (k == "com.openfaas.scale.max") {
        scale["max"] = std::atoi(v.get<std::string>().c_str());
      } else {
        labels[k] = v;
      }
    }
  }
  if (!scale.empty()) spec["scale"] = scale;
  if (auto it = d.find("limits"); it != d.end() && it->is_object()) {
    json resources = json::object();
    if (std::string m = StringField(*it, "memory"); !m.empty()) resources["memory"] = m;
    if (std::string c = StringField(*it, "cpu"); !c.empty()) resources["cpu"] = c;
    if (!resources.empty()) spec["resources"] = resources;
  }
  json doc = {{"apiVersion", "gantry.dev/v1"},
              {"kind", "Function"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
              {"spec", spec}};
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(local, doc.dump(2), "FunctionDeployment", "/", {});
  if (!loaded.ok()) {
    std::string all;
    for (const auto& e : loaded.errors) all += (all.empty() ? "" : "; ") + e.path + ": " + e.message;
    return core::Error::InvalidArgument(fmt::format("invalid deployment: {}", all));
  }
  return std::get<spec::FunctionSpec>(loaded.objects.at(0).object);
}

// Controller::Describe() JSON -> OpenFaaS FunctionStatus.
json FunctionStatus(const json& d) {
  const json& spec = d["spec"];
  json env = spec.contains("env") && spec["env"].is_object() ? spec["env"] : json::object();
  std::string process;
  if (env.contains("fprocess")) {
    process = env["fprocess"].get<std::string>();
    env.erase("fprocess");
  }
  json limits = nullptr;
  if (spec.contains("resources") && spec["resources"].is_object()) limits = spec["resources"];
  const json& status = d["status"];
  int min = spec.contains("scale") ? spec["scale"].value("min", 0) : 0;
  int ready = status.value("readyReplicas", 0);
  int starting = status.value("startingReplicas", 0);
  return json{{"name", d["metadata"]["name"]},
              {"namespace", d["metadata"]["namespace"]},
              {"image", status.value("image", "")},
              {"envProcess", process},
              {"envVars", env},
              {"secrets", spec.value("secrets", json::array())},
              {"labels", json::object()},
              {"annotations", json::object()},
              {"limits", limits},
              {"readOnlyRootFilesystem", true},
              // OpenFaaS counts invocations in its gateway; Gantry's are on /metrics.
              {"invocationCount", 0},
              {"replicas", std::max(min, ready + starting)},
              {"availableReplicas", ready},
              {"createdAt", status.value("createdAt", "")}};
}

core::Result<ApiResponse> Deploy(Controller& c, const ApiRequest& r, bool update) {
  auto body = Body(r);
  if (!body) return body.error();
  auto spec = SpecFromDeployment(*body);
  if (!spec) return spec.error();
  if (update && !c.Describe(spec->namespace_name(), spec->name()).ok()) {
    return JsonResponse(404, {{"error", fmt::format("function {} not found in namespace {}", spec->name(),
                                                    spec->namespace_name())}});
  }
  auto bundle = builder::MakeBundle(*spec);
  if (!bundle) return bundle.error();
  auto outcome = c.ApplySpec(*spec, builder::BundleDigest(*bundle));
  if (!outcome) return outcome.error();
  return JsonResponse(update ? 200 : 202, outcome->ToJson(spec->namespace_name(), spec->name()));
}

}  // namespace

std::vector<gateway::Route> OpenFaasRoutes(Controller& c) {
  std::vector<gateway::Route> routes;
  routes.push_back({"GET", "/system/functions", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      std::string ns = QueryNamespace(r);
                      auto list = c.List(ns.empty() ? kDefaultNamespace : ns);
                      if (!list) return list.error();
                      json out = json::array();
                      for (const auto& item : (*list)["items"]) out.push_back(FunctionStatus(item));
                      return JsonResponse(200, out);
                    }});
  routes.push_back({"POST", "/system/functions",
                    [&c](const ApiRequest& r) { return Deploy(c, r, /*update=*/false); }});
  routes.push_back({"PUT", "/system/functions",
                    [&c](const ApiRequest& r) { return Deploy(c, r, /*update=*/true); }});
  routes.push_back({"DELETE", "/system/functions", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto body = Body(r);
                      if (!body) return body.error();
                      auto [name, ns] = NameAndNamespace(StringField(*body, "functionName"),
                                                         StringField(*body, "namespace"));
                      if (name.empty()) return core::Error::InvalidArgument("\"functionName\" is required");
                      if (auto s = c.Delete(ns, name); !s) return s.error();
                      return JsonResponse(200, {{"functionName", name}, {"namespace", ns}});
                    }});
  routes.push_back({"GET", "/system/function/{name}", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto [name, ns] = NameAndNamespace(r.params.at("name"), QueryNamespace(r));
                      auto d = c.Describe(ns, name);
                      if (!d) return d.error();
                      return JsonResponse(200, FunctionStatus(*d));
                    }});
  routes.push_back({"POST", "/system/scale-function/{name}", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto body = Body(r);
                      if (!body) return body.error();
                      auto [name, ns] = NameAndNamespace(r.params.at("name"), StringField(*body, "namespace"));
                      auto replicas = ReplicasField(*body);
                      if (!replicas) return replicas.error();
                      if (auto s = c.Scale(ns, name, *replicas); !s) return s.error();
                      return JsonResponse(202, {{"serviceName", name}, {"namespace", ns}, {"replicas", *replicas}});
                    }});
  routes.push_back({"GET", "/system/logs", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto q = [&r](const char* key) {
                        auto it = r.query.find(key);
                        return it == r.query.end() ? std::string() : it->second;
                      };
                      auto [name, ns] = NameAndNamespace(q("name"), q("namespace"));
                      if (name.empty()) return core::Error::InvalidArgument("?name= is required");
                      int64_t since = 0;
                      if (std::string s = q("since"); !s.empty()) {
                        std::tm tm{};
                        if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
                          return core::Error::InvalidArgument("since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z");
                        }
                        since = static_cast<int64_t>(timegm(&tm));
                      }
                      auto logs = c.Logs(ns, name, std::atoll(q("tail").c_str()), since);
                      if (!logs) return logs.error();
                      return ApiResponse{.status = 200, .content_type = "application/x-ndjson", .body = *logs};
                    }});
  routes.push_back({"GET", "/system/info", [](const ApiRequest&) -> core::Result<ApiResponse> {
                      json version = {{"sha", ""}, {"release", std::string(core::kVersion)}};
                      return JsonResponse(200, {{"provider", {{"provider", "gantry"},
                                                              {"orchestration", "docker"},
                                                              {"version", version}}},
                                                {"version", version},
                                                {"arch", "x86_64"}});
                    }});
  routes.push_back({"GET", "/system/namespaces", [&c](const ApiRequest&) -> core::Result<ApiResponse> {
                      auto ns = c.Namespaces();
                      if (!ns) return ns.error();
                      std::vector<std::string> out = *ns;
                      if (std::find(out.begin(), out.end(), kDefaultNamespace) == out.end()) {
                        out.insert(out.begin(), kDefaultNamespace);
                      }
                      return JsonResponse(200, out);
                    }});
  routes.push_back({"GET", "/system/secrets", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      std::string ns = QueryNamespace(r);
                      auto list = c.ListSecrets(ns.empty() ? kDefaultNamespace : ns);
                      if (!list) return list.error();
                      json out = json::array();
                      for (const auto& s : *list) out.push_back({{"name", s["name"]}, {"namespace", s["namespace"]}});
                      return JsonResponse(200, out);
                    }});
  auto put_secret = [&c](const ApiRequest& r, bool update) -> core::Result<ApiResponse> {
    auto body = Body(r);
    if (!body) return body.error();
    auto [name, ns] = NameAndNamespace(StringField(*body, "name"), StringField(*body, "namespace"));
    if (name.empty()) return core::Error::InvalidArgument("\"name\" is required");
    if (!body->contains("value") || !(*body)["value"].is_string()) {
      return core::Error::InvalidArgument("\"value\" must be a string (rawValue is not supported)");
    }
    if (update) {
      auto existing = c.ListSecrets(ns);
      bool found = false;
      if (existing) {
        for (const auto& s : *existing) found = found || s["name"] == name;
      }
      if (!found) return JsonResponse(404, {{"error", fmt::format("secret {} not found in namespace {}", name, ns)}});
    }
    auto put = c.PutSecret(ns, name, (*body)["value"].get<std::string>());
    if (!put) return put.error();
    return JsonResponse(update ? 200 : 201, {{"name", name}, {"namespace", ns}});
  };
  routes.push_back({"POST", "/system/secrets", [put_secret](const ApiRequest& r) { return put_secret(r, false); }});
  routes.push_back({"PUT", "/system/secrets", [put_secret](const ApiRequest& r) { return put_secret(r, true); }});
  routes.push_back({"DELETE", "/system/secrets", [&c](const ApiRequest& r) -> core::Result<ApiResponse> {
                      auto body = Body(r);
                      if (!body) return body.error();
                      auto [name, ns] = NameAndNamespace(StringField(*body, "name"), StringField(*body, "namespace"));
                      if (auto s = c.DeleteSecret(ns, name); !s) return s.error();
                      return ApiResponse{.status = 204, .body = ""};
                    }});
  return routes;
}

}  // namespace gantry::daemon
