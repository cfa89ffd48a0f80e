#pragma once

// What the gateway needs from the rest of gantryd: a replica to call (InvokeBackend) and
// the management routes (Route). The daemon implements these over the pool and the store;
// the gateway never includes those.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
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
  std::string start = "warm";  // what served it (pool::StartPathName): X-Gantry-Start
  std::string replica;         // for logs and records
  int64_t generation = 0;      // the replica's, for records
  int64_t memory_bytes = 0;    // the function's memory limit, for usage (0: unknown)
  // Called exactly once when the call is over: ok, or the reason the replica failed
  // (connection refused/reset before an answer: the replica is broken).
  std::function<void(bool replica_failed, const std::string& reason)> release;
};

// Called once with a target or an error (the caller's status for it: InvokeStatusFor in
// error_mapping.h), possibly on another thread.
using ResolveCallback = std::function<void(core::Result<Target>)>;

// What the gateway can tell a caller about a function whose call failed, in user terms.
struct FailureHint {
  std::string reason;         // why its replicas fail ("handler import failed: ..."); may be ""
  std::string last_log_line;  // the function's last log line; may be ""
  bool serving = false;       // a replica is ready: `reason` may be about an older failure
};

// Resolves a function to a replica to call. Thread-safe.
class InvokeBackend {
 public:
  virtual ~InvokeBackend() = default;
  virtual void Resolve(const std::string& ns, const std::string& name, ResolveCallback done) = 0;
  // Asked only for the body of a failed call (never on the warm path): what is known about
  // ns/name's failures. No host paths in it. Must not block for long (it runs on an io
  // thread). Default: nothing known.
  virtual FailureHint Hint(const std::string& /*ns*/, const std::string& /*name*/) { return {}; }
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

// A response body made over time (logs -f, an apply's build progress). The gateway sends
// `body` (if any) and then each chunk Next() delivers, chunked, until Next() says done,
// then ends the response (and keeps the connection when the client asked). Next() is
// called again only after the previous callback ran. Cancel() is called once when the
// client goes away or the gateway stops first; after it, a pending or late callback is
// ignored (it may still be called, on any thread). Implementations are thread-safe.
class BodyStream {
 public:
  // Called exactly once per Next(): with the next chunk (may be empty), or done = true
  // (no more; `chunk` is still sent when not empty). On any thread, at any later time.
  using ChunkFn = std::function<void(std::string chunk, bool done)>;
  virtual ~BodyStream() = default;
  virtual void Next(ChunkFn deliver) = 0;
  virtual void Cancel() = 0;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  std::shared_ptr<BodyStream> stream;  // non-null: `body`, then the stream's chunks
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
  // With needs_auth, another credential this route also takes (a topic's publish token):
  // called with the Authorization header's value and the route's params when the
  // management token did not match, on the io thread (memory only, never blocking).
  std::function<bool(std::string_view authorization,
                     const std::map<std::string, std::string>& params)>
      also_authorized;
};

}  // namespace gantry::gateway
