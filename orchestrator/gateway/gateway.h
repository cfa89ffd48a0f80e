#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/call_defaults.h"
#include "core/clock.h"
#include "core/result.h"
#include "gateway/backend.h"
#include "gateway/call_record.h"
#include "gateway/metrics.h"

namespace gantry::gateway {

struct GatewayOptions {
  // "host:port"; an empty host means 127.0.0.1 and port 0 any free port (see port()).
  std::string listen = "127.0.0.1:8080";
  std::string token;  // management routes with needs_auth want "Authorization: Bearer <token>"
  bool auth_disabled = false;  // accept management calls without a token (or an empty bearer)
  std::uint64_t max_invoke_body = core::kDefaultMaxBodyBytes;  // bytes; 413 beyond
  std::uint64_t max_api_body = 32ull << 20;                    // bytes; 413 beyond
  int io_threads = 2;                                          // run the sockets; never block
  int worker_threads = 4;  // run management handlers (which may block); never /healthz, /metrics
  // Management calls waiting for a worker beyond the worker_threads running; more get 503.
  int max_api_queue = 64;
  std::chrono::seconds idle_timeout{75};  // a client connection idle this long is closed
  // A request head (line + headers) not complete this long after its first byte: the
  // connection is closed (slowloris). Separate from idle_timeout, which runs before it.
  std::chrono::milliseconds header_timeout{10'000};
  // Client connections open at once; one more is answered 503 and closed at once. Each may
  // hold two descriptors (client + replica) and up to ~200 KiB of buffers while it invokes.
  int max_connections = 4096;
  std::size_t max_idle_upstream = 64;  // idle upstream connections kept per socket/port
  // What a call's times are read from (tests: a ManualClock and a fixed wall time).
  // clock: X-Duration-Seconds and the duration histogram; null: the system's steady clock.
  // wall_clock: X-Start-Time; empty: std::chrono::system_clock::now.
  const core::Clock* clock = nullptr;
  std::function<std::chrono::system_clock::time_point()> wall_clock;
  // Called once per invoke call of a known function (not for 400s and unknown names), after
  // its answer is sent, on the io thread: it must be quick and never block. Empty: none.
  CallRecordFn on_call;
};

// The HTTP front door of gantryd, on one port:
//   ANY /function/{name}[.{namespace}][/{path...}]  proxied to the replica that
//       InvokeBackend::Resolve names, bodies streamed both ways; the response carries
//       X-Call-Id, X-Start-Time, X-Duration-Seconds and X-Cold-Start.
//   GET /healthz, GET /metrics (Prometheus text), answered on the io threads
//   the management routes given at construction (handlers on the worker threads).
// Every error answer is a JSON body {"error": "..."} (invoke errors add "function"). What a
// client sends is bounded (RequestLimits in bounded_parser.h, the body limits above): too
// large is 413/431, malformed is 400, and no request can throw out of the io threads.
// Start and Stop from one thread; metrics() and port() are thread-safe.
class Gateway {
 public:
  // `backend` must outlive the Gateway. Routes are tried in order, before the built-in
  // /healthz and /metrics (so the daemon may answer those itself).
  Gateway(GatewayOptions options, InvokeBackend& backend, std::vector<Route> routes);
  ~Gateway();  // Stop()s.

  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds and starts serving. kInvalidArgument for a malformed listen address or a missing
  // token with auth enabled; kUnavailable when the address can't be bound (in use,
  // permission), naming the address.
  core::Status Start();
  // Stops accepting, closes every connection and joins the threads; calls in flight are
  // cut off (their replicas released, as is a Target that Resolve delivers later). Waits for
  // management handlers already running to return. Idempotent.
  void Stop();

  // The bound port (useful with port 0); 0 before Start.
  int port() const;
  Metrics& metrics();

  // For tests and fuzzing: serves one client connection whose bytes are `input` followed by
  // end-of-stream, over an in-memory stream, on the calling thread, and returns what the
  // gateway wrote back. Needs no Start() (and must not be mixed with it); management handlers
  // run inline; invoke calls connect to their Target as they would when started.
  std::string ServeInMemory(std::string_view input);

  class Server;  // the Asio machinery: server.h

 private:
  std::unique_ptr<Server> server_;
};

}  // namespace gantry::gateway
