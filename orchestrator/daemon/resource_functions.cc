#include "daemon/resource_functions.h"

#include <cstdint>
#include <memory>
#include <utility>

#include "builder/bundle.h"
#include "daemon/api_support.h"
#include "daemon/apply_stream.h"

namespace gantry::daemon::resource {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

constexpr const char* kNamespaced = "/apis/gantry/v1/namespaces/{ns}/functions";
constexpr const char* kFunction = "/apis/gantry/v1/namespaces/{ns}/functions/{name}";

// The apply of an empty body: does the client's digest match what runs?
ApiResponse ApplyDigest(Controller& c, const builder::BundleLimits& limits, const std::string& ns,
                        const std::string& name, const std::string& digest) {
  if (auto unchanged = c.Unchanged(ns, name, digest)) {
    ApplyOutcome o{.result = "unchanged",
                   .generation = unchanged->generation,
                   .image = unchanged->image,
                   .digest = digest};
    return JsonResponse(200, o.ToJson(ns, name));
  }
  return JsonResponse(412, {{"error", "the function is new or changed: send its bundle"},
                            {"limits", limits.ToJson()}});
}

// The client asked for the build's progress as it happens.
bool WantsProgress(const ApiRequest& r) {
  return HeaderValue(r, "accept").find("application/x-ndjson") != std::string::npos ||
         QueryParam(r, "progress") == "1" || QueryParam(r, "progress") == "true";
}

}  // namespace

core::Result<ApiResponse> ApplyFunction(Controller& c, const builder::BundleLimits& limits,
                                        const ApiRequest& r, BackgroundWork* background) {
  std::string ns = PathParam(r, "ns");
  std::string name = PathParam(r, "name");
  if (r.body.empty()) {
    return ApplyDigest(c, limits, ns, name, HeaderValue(r, "x-gantry-bundle-digest"));
  }
  // Checked before anything is written to disk; a gzip bundle is unpacked only as far as
  // the limit (file bytes plus room for tar headers).
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
  const bool dry_run = QueryParam(r, "dryRun") == "server";
  if (background != nullptr && WantsProgress(r)) {
    auto stream = std::make_shared<ApplyProgressStream>();
    background->Run([&c, stream, ns, name, dry_run, bundle = std::move(tar->tar)] {
      auto outcome = c.ApplyBundle(ns, name, bundle, dry_run,
                                   [&stream](std::string_view line) { stream->Line(line); });
      if (!outcome) {
        stream->Finish(outcome.error());
      } else {
        stream->Finish(outcome->ToJson(ns, name));
      }
    });
    ApiResponse answer{.status = 200, .content_type = "application/x-ndjson"};
    answer.stream = std::move(stream);
    return answer;
  }
  auto outcome = c.ApplyBundle(ns, name, tar->tar, dry_run);
  if (!outcome) return outcome.error();
  return JsonResponse(outcome->result == "created" ? 201 : 200, outcome->ToJson(ns, name));
}

core::Result<ApiResponse> GetFunction(Controller& c, const ApiRequest& r) {
  auto d = c.Describe(PathParam(r, "ns"), PathParam(r, "name"));
  if (!d) return d.error();
  return JsonResponse(200, *d);
}

core::Result<ApiResponse> ListFunctions(Controller& c, const ApiRequest& r) {
  auto list = c.List(PathParam(r, "ns"));
  if (!list) return list.error();
  return JsonResponse(200, *list);
}

core::Result<ApiResponse> ListAllFunctions(Controller& c, const ApiRequest&) {
  auto list = c.List("");
  if (!list) return list.error();
  return JsonResponse(200, *list);
}

core::Result<ApiResponse> DeleteFunction(Controller& c, const ApiRequest& r) {
  std::string ns = PathParam(r, "ns");
  std::string name = PathParam(r, "name");
  if (auto s = c.Delete(ns, name); !s) return s.error();
  return JsonResponse(200, {{"namespace", ns}, {"name", name}, {"result", "deleted"}});
}

core::Result<ApiResponse> ScaleFunction(Controller& c, const ApiRequest& r) {
  auto body = JsonObjectBody(r);
  if (!body) return body.error();
  auto n = ReplicasField(*body);
  if (!n) return n.error();
  if (auto s = c.Scale(PathParam(r, "ns"), PathParam(r, "name"), *n); !s) return s.error();
  return JsonResponse(200, {{"name", PathParam(r, "name")}, {"replicas", *n}});
}

std::vector<gateway::Route> FunctionRoutes(Controller& c, builder::BundleLimits limits) {
  auto with = [&c](auto handler) {
    return [&c, handler](const ApiRequest& r) { return handler(c, r); };
  };
  std::string fn = kFunction;
  // Streamed applies build on threads of their own, joined when the routes go.
  auto background = std::make_shared<BackgroundWork>();
  return {
      {"PUT", fn,
       [&c, limits, background](const ApiRequest& r) {
         return ApplyFunction(c, limits, r, background.get());
       }},
      {"GET", fn, with(GetFunction)},
      {"DELETE", fn, with(DeleteFunction)},
      {"PUT", fn + "/scale", with(ScaleFunction)},
      {"GET", kNamespaced, with(ListFunctions)},
      {"GET", "/apis/gantry/v1/functions", with(ListAllFunctions)},
  };
}

}  // namespace gantry::daemon::resource
