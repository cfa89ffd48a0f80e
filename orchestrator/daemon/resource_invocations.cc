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

std::string FormatMs(int64_t unix_ms) {
  return core::FormatUtcMillis(core::FromUnixMillis(unix_ms));
}

using core::UnixMillis;

core::Result<int> ParseInt(std::string_view text, int lo, int hi, const char* what) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return core::Error::InvalidArgument(
        fmt::format("{} must be a whole number from {} to {}, not \"{}\"", what, lo, hi, text));
  }
  return v;
}

// The query's time `key` in Unix ms: a duration back from now ("10m") or an RFC 3339
// time; `absent` when it is not given.
core::Result<int64_t> TimeParam(const core::Clock& clock, const ApiRequest& r, const char* key,
                                int64_t absent) {
  std::string text = QueryParam(r, key);
  if (text.empty()) return absent;
  if (auto back = spec::ParseDuration(text); back) return UnixMillis(clock.Wall()) - back->count();
  if (auto at = core::ParseUtc(text); at) return UnixMillis(*at);
  return core::Error::InvalidArgument(
      fmt::format("{} must be a duration (\"10m\") or an RFC 3339 time, not \"{}\"", key, text));
}

core::Result<store::InvocationFilter> FilterFrom(const core::Clock& clock, const ApiRequest& r) {
  store::InvocationFilter f{.limit = kDefaultLimit};
  if (std::string limit = QueryParam(r, "limit"); !limit.empty()) {
    auto n = ParseInt(limit, 1, kMaxLimit, "limit");
    if (!n) return n.error();
    f.limit = *n;
  }
  auto since = TimeParam(clock, r, "since", 0);
  if (!since) return since.error();
  f.since_unix_ms = *since;
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
  if (!r.replica.empty()) {  // it ran: what it is billed
    j["billedMs"] = store::BilledMs(r.duration_us);
    j["memoryBytes"] = r.memory_bytes;
  }
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

json UsageJson(const store::UsageRow& u) {
  return {{"calls", u.calls},
          {"errors", u.errors},
          {"coldStarts", u.cold_starts},
          {"billedMs", u.billed_ms},
          {"gbSeconds", u.gb_seconds()},
          {"requestBytes", u.request_bytes},
          {"responseBytes", u.response_bytes}};
}

core::Result<ApiResponse> GetUsage(store::Store& store, const core::Clock& clock,
                                   const ApiRequest& r) {
  constexpr int64_t kDayMs = 24 * 3'600'000;
  const int64_t now = UnixMillis(clock.Wall());
  auto since = TimeParam(clock, r, "since", now - kDayMs);
  if (!since) return since.error();
  auto until = TimeParam(clock, r, "until", now + 1);
  if (!until) return until.error();
  if (*until <= *since) {
    return core::Error::InvalidArgument(
        fmt::format("until ({}) must be after since ({})", FormatMs(*until), FormatMs(*since)));
  }
  store::UsageQuery q{.ns = PathParam(r, "ns"),
                      .function = QueryParam(r, "function"),
                      .since_unix_ms = *since,
                      .until_unix_ms = *until};
  const std::string by = QueryParam(r, "by").empty() ? "function" : QueryParam(r, "by");
  if (by == "hour") {
    q.by = store::UsageQuery::By::kHour;
  } else if (by != "function") {
    return core::Error::InvalidArgument(
        fmt::format("by must be \"function\" or \"hour\", not \"{}\"", by));
  }
  auto rows = store.Usage(q);
  if (!rows) return rows.error();
  json items = json::array();
  store::UsageRow total;
  for (const auto& row : *rows) {
    json item = UsageJson(row);
    if (q.by == store::UsageQuery::By::kHour) {
      item["hour"] = FormatMs(row.hour_unix_ms);
    } else {
      item["namespace"] = row.namespace_name;
      item["function"] = row.function;
    }
    items.push_back(std::move(item));
    total.calls += row.calls;
    total.errors += row.errors;
    total.cold_starts += row.cold_starts;
    total.billed_ms += row.billed_ms;
    total.kib_ms += row.kib_ms;
    total.request_bytes += row.request_bytes;
    total.response_bytes += row.response_bytes;
  }
  return JsonResponse(200, {{"kind", "Usage"},
                            {"namespace", q.ns},
                            {"by", by},
                            {"since", FormatMs(store::HourStart(*since))},
                            {"until", FormatMs(*until)},
                            {"items", std::move(items)},
                            {"total", UsageJson(total)}});
}

std::vector<gateway::Route> InvocationRoutes(store::Store& store, const core::Clock& clock) {
  std::string fn = "/apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations";
  auto get = [&store](const ApiRequest& r) { return GetInvocation(store, r); };
  auto usage = [&store, &clock](const ApiRequest& r) { return GetUsage(store, clock, r); };
  return {
      {"GET", fn,
       [&store, &clock](const ApiRequest& r) { return ListInvocations(store, clock, r); }},
      {"GET", fn + "/{id}", get},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/invocations/{id}", get},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/usage", usage},
      {"GET", "/apis/gantry/v1/usage", usage},
  };
}

}  // namespace gantry::daemon::resource
