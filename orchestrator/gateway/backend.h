#pragma once

// What the gateway needs from the rest of gantryd: a replica to call (InvokeBackend) and
// the management routes (Route). The daemon implements these over the pool and the store;
// the gateway never includes those.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/call_defaults.h"
#include "core/result.h"

namespace gantry::gateway {

// Where to send one call, and what to do when it is over.
struct Target {
  std::string unix_socket;  // non-empty: HTTP over this unix socket
  std::string host = "127.0.0.1";
  int port = 0;
  std::chrono::milliseconds timeout = core::kDefaultCallTimeout;  // the function's; 0: none
  bool cold_start = false;
  std::string replica;  // for logs and records
  // Called exactly once when the call is over: ok, or the reason the replica failed
  // (connection refused/reset before an answer: the replica is broken).
  std::function<void(bool replica_failed, const std::string& reason)> release;
};

// Called once with a target or an error (the caller's status for it: InvokeStatusFor in
// error_mapping.h), possibly on another thread.
using ResolveCallback = std::function<void(core::Result<Target>)>;

// Resolves a function to a replica to call. Thread-safe.
class InvokeBackend {
 public:
  virtual ~InvokeBackend() = default;
  virtual void Resolve(const std::string& ns, const std::string& name, ResolveCallback done) = 0;
};

// A request as the management handlers see it (body read whole, within the limit).
struct ApiRequest {
  std::string method;
  std::string path;    // without the query
  std::string target;  // the request target as sent: path and query, nothing decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::map<std::string, std::string> params;  // from the route pattern ({ns}, {name})
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

// A management handler. Runs on a worker thread (it may block on the store, the builder
// or the engine). Errors it returns become JSON bodies: {"error": "<message>"}.
using ApiHandler = std::function<core::Result<ApiResponse>(const ApiRequest&)>;

struct Route {
  std::string method;  // "GET", "PUT", ... or "*"
  std::string
      pattern;  // "/system/function/{name}", "/apis/gantry/v1/namespaces/{ns}/functions/{name}"
  ApiHandler handler;
  bool needs_auth = true;
  // Cheap and never blocking (/healthz, /metrics): run on the io thread, so a queue of slow
  // handlers on the workers can't hold it up.
  bool on_io_thread = false;
};

}  // namespace gantry::gateway
