#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "gateway/backend.h"
#include "store/store.h"

namespace gantry::daemon::resource {

// Gantry's invocation records (store::InvocationRecord), read-only:
//   GET /apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations?limit=&since=&status=
//   GET /apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations/{id}
//   GET /apis/gantry/v1/namespaces/{ns}/invocations/{id}   (by id alone: an async 202 has it)
// Errors: the store's; kInvalidArgument for a bad query; kNotFound for an unknown id.

// 200 {"kind": "InvocationList", "items": [record JSON]}, newest first. `limit` 1–1000
// (default 50); `since` a duration back from now ("10m") or an RFC 3339 time; `status` a
// code (100–599), "failed" (>= 400 or no answer) or "succeeded".
core::Result<gateway::ApiResponse> ListInvocations(store::Store& store, const core::Clock& clock,
                                                   const gateway::ApiRequest& request);

// 200 with the record JSON; kNotFound when there is none (or, on the function's route, it
// is another function's).
core::Result<gateway::ApiResponse> GetInvocation(store::Store& store,
                                                 const gateway::ApiRequest& request);

// A record as the API shows it: {"callId", "function", "namespace", "generation",
// "replica" (12 hex), "trigger", "cold", "queueWaitMs", "durationMs", "status",
// "requestBytes", "responseBytes", "error", "startedAt"}, and for an async call "state",
// "attempts", "enqueuedAt" and, once it has one, "result": {"status", "headers", "body"
// (text, or base64 with "bodyEncoding": "base64"), "truncated"}.
nlohmann::json InvocationJson(const store::InvocationRecord& record);

// Usage (pay-per-use) from the store's hourly rollups:
//   GET /apis/gantry/v1/namespaces/{ns}/usage?since=&until=&by=function|hour&function=
//   GET /apis/gantry/v1/usage?...   (every namespace)
// 200 {"kind": "Usage", "namespace", "by", "since", "until", "items": [...], "total": {...}}:
// each item and the total {"calls", "errors", "coldStarts", "billedMs", "gbSeconds",
// "requestBytes", "responseBytes"}, an item with "namespace" and "function" (by function)
// or "hour" (by hour). `since` (default 24h) and `until` (default now) as for the
// records; whole hours (since rounds down to its hour).
core::Result<gateway::ApiResponse> GetUsage(store::Store& store, const core::Clock& clock,
                                            const gateway::ApiRequest& request);

// The routes above. `store` and `clock` outlive them.
std::vector<gateway::Route> InvocationRoutes(
    store::Store& store, const core::Clock& clock = core::SystemClock::Instance());

}  // namespace gantry::daemon::resource
