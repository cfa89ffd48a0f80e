#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/backend.h"
#include "http/http.h"

namespace gantry::daemon {

struct MapOptions {
  int default_concurrency = 16;
  int max_concurrency = 256;
  std::size_t max_inputs = 1'000'000;
  int max_attempts = 6;  // per input, for 429 and 503 (the function is busy or scaling)
  std::chrono::milliseconds first_backoff{100};  // doubled per attempt, at most 5 s
  std::chrono::seconds call_timeout{600};
  int max_jobs = 8;  // map calls running at once (each has up to max_concurrency threads)
};

// How many replicas ns/name has now (for the summary's peak).
using ReplicaCountFn = std::function<int(const std::string& ns, const std::string& name)>;

// Parallel map: POST /apis/gantry/v1/namespaces/{ns}/functions/{name}/map[?concurrency=N]
// takes NDJSON (one input per line; blank lines are skipped) and calls the function once
// per input through gantryd's own gateway (so the pool and autoscaler see the fan-out, and
// every call has its record), at most N at a time (default 16, 1–256), retrying 429 and
// 503 with back-off. It streams NDJSON back in input order, one line per input as soon as it
// and all before it are done:
//   {"index": i, "status": 200, "body": <the answer: JSON when it parses, else a string, or
//    base64 with "bodyEncoding">, "attempts": n, "durationMs": ms, "start": "warm"|...}
// ("error" instead of a status 0 when no answer came), then a last line
//   {"summary": {"inputs", "ok", "failed", "retried", "wallMs", "callsPerSecond",
//    "replicasPeak", "coldStarts", "concurrency"}}.
// 404 when the function is not deployed, 400 for a bad concurrency, 413 past max_inputs,
// 429 when max_jobs map calls are running already. Needs the management token.
// A client that goes away cancels what has not started. Thread-safe.
class MapApi {
 public:
  MapApi(MapOptions options, ReplicaCountFn replicas, http::Sender send = http::Send)
      : options_(options), replicas_(std::move(replicas)), send_(std::move(send)) {}

  // Where the calls go ("http://127.0.0.1:8080"); before the first map call.
  void Start(std::string gateway_url) { gateway_url_ = std::move(gateway_url); }
  gateway::Route Route();

 private:
  core::Result<gateway::ApiResponse> Map(const gateway::ApiRequest& r);

  const MapOptions options_;
  const ReplicaCountFn replicas_;
  const http::Sender send_;
  std::string gateway_url_;
  std::shared_ptr<std::atomic<int>> jobs_ = std::make_shared<std::atomic<int>>(0);  // running
};

}  // namespace gantry::daemon
