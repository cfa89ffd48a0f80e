#include "daemon/openfaas_functions.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "builder/bundle.h"
#include "core/log.h"
#include "daemon/api_support.h"
#include "daemon/openfaas_names.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "spec/quantity.h"

namespace gantry::daemon::openfaas {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

// The deployment's limits and requests as sent, kept in this annotation (compact JSON, "{}"
// when it sent neither) so that FunctionStatus echoes them unchanged; never among the
// annotations FunctionStatus returns (Gantry's own describe shows it). A function deployed
// from a manifest has none: its limits are its resources.
constexpr std::string_view kAsSentAnnotation = "gantry.dev/openfaas-resources";

// limits.memory when it is a quantity below the engine's floor (it is raised to it).
std::optional<std::string> MemoryBelowFloor(const json& d) {
  auto it = d.find("limits");
  if (it == d.end() || !it->is_object()) return std::nullopt;
  std::string memory = StringField(*it, "memory");
  auto bytes = spec::ParseMemory(memory);
  if (!bytes || *bytes >= spec::kMinMemoryBytes) return std::nullopt;
  return memory;
}

// Why a scaling label is not acted on as OpenFaaS would, or empty.
std::string UnhonouredScaling(const json& labels) {
  auto label = [&](const char* key) {
    auto it = labels.find(key);
    return it != labels.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string type = label("com.openfaas.scale.type");
  if (type.empty() || type == "capacity" || type == "rps") return "";
  return fmt::format(
      "com.openfaas.scale.type={} is not supported: scaling follows in-flight calls "
      "(as com.openfaas.scale.type=capacity)",
      type);
}

// POST (create) or PUT (update) of a FunctionDeployment.
core::Result<ApiResponse> Deploy(Controller& c, const ApiRequest& r, bool update) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto spec = SpecFromDeployment(*body);
  if (!spec) return spec.error();
  if (update) {
    // kNotFound names the function as OpenFaaS does; any other failure is the store's.
    if (auto d = c.Describe(spec->namespace_name(), spec->name()); !d) {
      if (d.error().code() != core::ErrorCode::kNotFound) return d.error();
      return core::Error::NotFound(fmt::format("function {} not found in namespace {}",
                                               spec->name(), spec->namespace_name()));
    }
  }
  auto bundle = builder::MakeBundle(*spec);
  if (!bundle) return bundle.error();
  auto outcome = c.ApplySpec(*spec, builder::BundleDigest(*bundle));
  if (!outcome) return outcome.error();
  const std::string& ns = spec->namespace_name();
  if (auto memory = MemoryBelowFloor(*body)) {
    c.RecordEvent(ns, spec->name(), "Warning", "MemoryRaised",
                  fmt::format("limits.memory {} is below the engine's minimum: raised to {}",
                              *memory, spec::FormatMemory(spec::kMinMemoryBytes)));
  }
  if (auto labels = body->find("labels"); labels != body->end() && labels->is_object()) {
    if (std::string why = UnhonouredScaling(*labels); !why.empty()) {
      c.RecordEvent(ns, spec->name(), "Warning", "ScalingLabel", why);
    }
  }
  // OpenFaaS starts a replica at deploy even when the function may scale to zero.
  if (spec->scale().min == 0 && outcome->result != "unchanged") {
    if (auto s = c.Scale(spec->namespace_name(), spec->name(), 1); !s) {
      core::Log(core::LogLevel::kWarn, "openfaas: {}.{}: the first replica: {}", spec->name(),
                spec->namespace_name(), s.error().message());
    }
  }
  return JsonResponse(update ? 200 : 202, outcome->ToJson(spec->namespace_name(), spec->name()));
}

}  // namespace

core::Result<spec::FunctionSpec> SpecFromDeployment(const json& d) {
  auto [name, ns] = NameAndNamespace(StringField(d, "service"), StringField(d, "namespace"));
  if (name.empty()) {
    return core::Error::InvalidArgument("\"service\" (the function name) is required");
  }
  json spec = {{"runtime", "image"}, {"image", StringField(d, "image")}, {"port", 8080}};
  json env = json::object();
  if (auto it = d.find("envVars"); it != d.end() && it->is_object()) env = *it;
  if (std::string process = StringField(d, "envProcess"); !process.empty()) {
    env["fprocess"] = process;
  }
  if (!env.empty()) spec["env"] = env;
  if (auto it = d.find("secrets"); it != d.end() && it->is_array() && !it->empty()) {
    spec["secrets"] = *it;
  }
  json labels = json::object();
  // OpenFaaS's scaling labels. A function keeps com.openfaas.scale.min replicas (default 1)
  // unless com.openfaas.scale.zero=true, which lets it go to zero after
  // com.openfaas.scale.zero-duration idle (default 15m): then scale.min is 0 and the
  // deploy starts one replica (DeployFunction) that the idle timeout removes.
  int min = 1;
  bool zero = false;
  std::string zero_duration = "15m";
  std::string type;
  int target = 0;
  json scale = json::object();
  if (auto it = d.find("labels"); it != d.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) continue;
      // Kept as labels too: OpenFaaS returns every label it was given.
      labels[k] = v;
      const std::string value = v.get<std::string>();
      if (k == "com.openfaas.scale.min") {
        min = std::atoi(value.c_str());
      } else if (k == "com.openfaas.scale.max") {
        scale["max"] = std::atoi(value.c_str());
      } else if (k == "com.openfaas.scale.zero") {
        zero = value == "true";
      } else if (k == "com.openfaas.scale.zero-duration") {
        zero_duration = value;
      } else if (k == "com.openfaas.scale.type") {
        type = value;
      } else if (k == "com.openfaas.scale.target") {
        target = std::atoi(value.c_str());
      }
    }
  }
  scale["min"] = zero ? 0 : min;
  // Replicas above the minimum go after 30 s idle (OpenFaaS scales down once the load has
  // passed); to zero after zero-duration.
  scale["idleTimeout"] = zero ? zero_duration : "30s";
  // capacity: the target is in-flight calls per replica, which is how Gantry scales.
  if (type == "capacity" && target > 0) spec["concurrency"] = target;
  // As requested; OpenFaaS's default is a writable root (Gantry manifests: read-only).
  auto read_only = d.find("readOnlyRootFilesystem");
  spec["readOnlyRootFilesystem"] =
      read_only != d.end() && read_only->is_boolean() && read_only->get<bool>();
  json annotations = json::object();
  if (auto it = d.find("annotations"); it != d.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_string() && k != kAsSentAnnotation) annotations[k] = v;
    }
  }
  json as_sent = json::object();
  for (const char* key : {"limits", "requests"}) {
    if (auto it = d.find(key); it != d.end() && it->is_object()) as_sent[key] = *it;
  }
  // Always set: it also marks the function as deployed through this API.
  annotations[std::string(kAsSentAnnotation)] = as_sent.dump();
  if (!scale.empty()) spec["scale"] = scale;
  if (auto it = d.find("limits"); it != d.end() && it->is_object()) {
    json resources = json::object();
    if (std::string m = StringField(*it, "memory"); !m.empty()) {
      // The engine refuses less than its floor; OpenFaaS takes it. Raised (and said: Deploy).
      resources["memory"] = MemoryBelowFloor(d) ? spec::FormatMemory(spec::kMinMemoryBytes) : m;
    }
    if (std::string c = StringField(*it, "cpu"); !c.empty()) resources["cpu"] = c;
    if (!resources.empty()) spec["resources"] = resources;
  }
  json doc = {
      {"apiVersion", "gantry.dev/v1"},
      {"kind", "Function"},
      {"metadata",
       {{"name", name}, {"namespace", ns}, {"labels", labels}, {"annotations", annotations}}},
      {"spec", spec}};
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(local, doc.dump(2), "FunctionDeployment", "/", {});
  if (!loaded.ok()) {
    std::string all;
    for (const auto& e : loaded.errors) {
      all += (all.empty() ? "" : "; ") + e.path + ": " + e.message;
    }
    return core::Error::InvalidArgument(fmt::format("invalid deployment: {}", all));
  }
  return std::get<spec::FunctionSpec>(loaded.objects.at(0).object);
}

json FunctionStatus(const json& d) {
  const json& spec = d["spec"];
  json env = spec.contains("env") && spec["env"].is_object() ? spec["env"] : json::object();
  std::string process;
  if (env.contains("fprocess")) {
    process = env["fprocess"].get<std::string>();
    env.erase("fprocess");
  }
  json limits = nullptr;
  json requests = nullptr;
  if (spec.contains("resources") && spec["resources"].is_object()) limits = spec["resources"];
  const json& status = d["status"];
  const json& metadata = d["metadata"];
  int ready = status.value("readyReplicas", 0);
  // Objects, never null; faas_function names the function, as OpenFaaS's providers set it.
  json labels = metadata.contains("labels") && metadata["labels"].is_object() ? metadata["labels"]
                                                                              : json::object();
  labels["faas_function"] = metadata["name"];
  json annotations = metadata.contains("annotations") && metadata["annotations"].is_object()
                         ? metadata["annotations"]
                         : json::object();
  // Deployed through this API: limits and requests exactly as sent, or none.
  if (auto it = annotations.find(kAsSentAnnotation); it != annotations.end()) {
    json sent = it->is_string() ? json::parse(it->get<std::string>(), nullptr, false) : json();
    annotations.erase(it);
    limits = sent.is_object() && sent.contains("limits") ? sent["limits"] : json(nullptr);
    requests = sent.is_object() && sent.contains("requests") ? sent["requests"] : json(nullptr);
  }
  // The image as it was sent; a function built from source has only the built one.
  std::string image = spec.contains("image") && spec["image"].is_string()
                          ? spec["image"].get<std::string>()
                          : status.value("image", "");
  json out{{"name", metadata["name"]},
           {"namespace", metadata["namespace"]},
           {"image", image},
           {"envProcess", process},
           {"secrets", spec.value("secrets", json::array())},
           {"labels", labels},
           {"annotations", annotations},
           {"readOnlyRootFilesystem", spec.value("readOnlyRootFilesystem", true)},
           // The gateway's count since gantryd started (OpenFaaS's comes from Prometheus).
           {"invocationCount", status.value("invocations", 0)},
           // Wanted (scale.min, the autoscaler or a scale-function), or more while they go.
           {"replicas", status.value("desiredReplicas", 0)},
           {"availableReplicas", ready},
           {"createdAt", status.value("createdAt", "")}};
  if (!env.empty()) out["envVars"] = env;  // omitted when none were given, as OpenFaaS does
  if (!limits.is_null()) out["limits"] = limits;
  if (!requests.is_null()) out["requests"] = requests;
  return out;
}

core::Result<ApiResponse> ListFunctions(Controller& c, const ApiRequest& r) {
  auto list = c.List(QueryNamespaceOrDefault(r));
  if (!list) return list.error();
  json out = json::array();
  for (const auto& item : (*list)["items"]) out.push_back(FunctionStatus(item));
  return JsonResponse(200, out);
}

core::Result<ApiResponse> DeployFunction(Controller& c, const ApiRequest& r) {
  return Deploy(c, r, /*update=*/false);
}

core::Result<ApiResponse> UpdateFunction(Controller& c, const ApiRequest& r) {
  return Deploy(c, r, /*update=*/true);
}

core::Result<ApiResponse> DeleteFunction(Controller& c, const ApiRequest& r) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto [name, ns] =
      NameAndNamespace(StringField(*body, "functionName"), StringField(*body, "namespace"));
  if (name.empty()) return core::Error::InvalidArgument("\"functionName\" is required");
  if (auto s = c.Delete(ns, name); !s) return s.error();
  return JsonResponse(200, {{"functionName", name}, {"namespace", ns}});
}

core::Result<ApiResponse> GetFunction(Controller& c, const ApiRequest& r) {
  auto [name, ns] = NameAndNamespace(PathParam(r, "name"), QueryParam(r, "namespace"));
  auto d = c.Describe(ns, name);
  if (!d) return d.error();
  return JsonResponse(200, FunctionStatus(*d));
}

core::Result<ApiResponse> ScaleFunction(Controller& c, const ApiRequest& r) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto [name, ns] = NameAndNamespace(PathParam(r, "name"), StringField(*body, "namespace"));
  auto replicas = ReplicasField(*body);
  if (!replicas) return replicas.error();
  // As OpenFaaS: any count up to scale.max (zero too, below com.openfaas.scale.min), held
  // until the next call, which scales the function up again.
  if (auto s = c.Scale(ns, name, *replicas, pool::ScaleHold::kUntilCall); !s) return s.error();
  return JsonResponse(202, {{"serviceName", name}, {"namespace", ns}, {"replicas", *replicas}});
}

std::vector<gateway::Route> FunctionRoutes(Controller& c) {
  auto with = [&c](auto handler) {
    return [&c, handler](const ApiRequest& r) { return handler(c, r); };
  };
  return {
      {"GET", "/system/functions", with(ListFunctions)},
      {"POST", "/system/functions", with(DeployFunction)},
      {"PUT", "/system/functions", with(UpdateFunction)},
      {"DELETE", "/system/functions", with(DeleteFunction)},
      {"GET", "/system/function/{name}", with(GetFunction)},
      {"POST", "/system/scale-function/{name}", with(ScaleFunction)},
  };
}

}  // namespace gantry::daemon::openfaas
