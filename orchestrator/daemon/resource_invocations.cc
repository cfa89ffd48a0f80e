#include "daemon/resource_invocations.h"

#include <fmt/format.h>

#include <charconv>
#include <string_view>

#include "core/base64.h"
#include "core/time_format.h"
#include "daemon/api_support.h"
#include "spec/duration.h"

namespace gantry::daemon::resource {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;

bool ValidUtf8(const std::string& text) {
  try {
    (void)json(text).dump();  // throws on invalid UTF-8: the only way we use it
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

std::string FormatMs(int64_t unix_ms) {
  return core::FormatUtcMillis(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(unix_ms))));
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

core::Result<int> ParseInt(std::string_view text, int lo, int hi, const char* what) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return core::Error::InvalidArgument(
        fmt::format("{} must be a whole number from {} to {}, not \"{}\"", what, lo, hi, text));
  }
  return v;
}

core::Result<store::InvocationFilter> FilterFrom(const core::Clock& clock, const ApiRequest& r) {
  store::InvocationFilter f{.limit = kDefaultLimit};
  if (std::string limit = QueryParam(r, "limit"); !limit.empty()) {
    auto n = ParseInt(limit, 1, kMaxLimit, "limit");
    if (!n) return n.error();
    f.limit = *n;
  }
  if (std::string since = QueryParam(r, "since"); !since.empty()) {
    if (auto back = spec::ParseDuration(since); back) {
      f.since_unix_ms = UnixMs(clock.Wall()) - back->count();
    } else if (auto at = core::ParseUtc(since); at) {
      f.since_unix_ms = UnixMs(*at);
    } else {
      return core::Error::InvalidArgument(
          fmt::format("since must be a duration (\"10m\") or an RFC 3339 time, not \"{}\"", since));
    }
  }
  if (std::string status = QueryParam(r, "status"); !status.empty()) {
    using S = store::InvocationFilter::Status;
    if (status == "failed") {
      f.status = S::kFailed;
    } else if (status == "succeeded") {
      f.status = S::kSucceeded;
    } else {
      auto code = ParseInt(status, 100, 599, "status (or \"failed\", \"succeeded\")");
      if (!code) return code.error();
      f.status = S::kCode;
      f.code = *code;
    }
  }
  return f;
}

}  // namespace

json InvocationJson(const store::InvocationRecord& r) {
  json j = {{"callId", r.call_id},
            {"function", r.function},
            {"namespace", r.namespace_name},
            {"generation", r.generation},
            {"replica", r.replica.substr(0, 12)},
            {"trigger", r.trigger},
            {"cold", r.cold},
            {"start", r.start},
            {"queueWaitMs", static_cast<double>(r.queue_wait_us) / 1000.0},
            {"durationMs", static_cast<double>(r.duration_us) / 1000.0},
            {"status", r.status},
            {"requestBytes", r.request_bytes},
            {"responseBytes", r.response_bytes},
            {"error", r.error},
            {"startedAt", FormatMs(r.started_unix_ms)}};
  if (r.state.empty()) return j;
  j["state"] = r.state;
  j["attempts"] = r.attempts;
  j["enqueuedAt"] = FormatMs(r.enqueued_unix_ms);
  if (r.result_status != 0) {
    json headers = json::parse(r.result_headers_json, nullptr, false);
    json result = {{"status", r.result_status},
                   {"headers", headers.is_object() ? headers : json::object()},
                   {"truncated", r.result_truncated}};
    if (ValidUtf8(r.result_body)) {
      result["body"] = r.result_body;
    } else {
      result["body"] = core::Base64Encode(r.result_body);
      result["bodyEncoding"] = "base64";
    }
    j["result"] = std::move(result);
  }
  return j;
}

core::Result<ApiResponse> ListInvocations(store::Store& store, const core::Clock& clock,
                                          const ApiRequest& r) {
  auto filter = FilterFrom(clock, r);
  if (!filter) return filter.error();
  auto list = store.ListInvocations(PathParam(r, "ns"), PathParam(r, "name"), *filter);
  if (!list) return list.error();
  json items = json::array();
  for (const auto& record : *list) items.push_back(InvocationJson(record));
  return JsonResponse(200, {{"kind", "InvocationList"}, {"items", std::move(items)}});
}

core::Result<ApiResponse> GetInvocation(store::Store& store, const ApiRequest& r) {
  std::string ns = PathParam(r, "ns");
  std::string id = PathParam(r, "id");
  auto record = store.GetInvocation(ns, id);
  if (!record) return record.error();
  if (std::string name = PathParam(r, "name"); !name.empty() && record->function != name) {
    return core::Error::NotFound(
        fmt::format("invocation {} of function {} not found in namespace {}", id, name, ns));
  }
  return JsonResponse(200, InvocationJson(*record));
}

std::vector<gateway::Route> InvocationRoutes(store::Store& store, const core::Clock& clock) {
  std::string fn = "/apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations";
  auto get = [&store](const ApiRequest& r) { return GetInvocation(store, r); };
  return {
      {"GET", fn,
       [&store, &clock](const ApiRequest& r) { return ListInvocations(store, clock, r); }},
      {"GET", fn + "/{id}", get},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/invocations/{id}", get},
  };
}

}  // namespace gantry::daemon::resource
