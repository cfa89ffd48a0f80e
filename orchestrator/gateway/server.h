#pragma once

// Private to the gateway's own .cc files: the Asio machinery behind Gateway (gateway.h).
//   server.cc   Start/Stop, the accept loop and the connection cap, ServeInMemory
//   session.cc  one client connection: the request loop, limits and timeouts, writing answers
//   invoke.cc   ANY /function/...: one call proxied to a replica, step by step (InvokeCall)
//   resolve.cc  asking the backend for a replica, connecting to it
//   manage.cc   the management routes: auth, the bounded worker queue, streamed answers
// A session runs over beast::tcp_stream (a client socket) or MemoryStream (ServeInMemory):
// the member templates below are defined in their .cc and instantiated there for both.

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "gateway/bounded_parser.h"
#include "gateway/gateway.h"
#include "gateway/memory_stream.h"
#include "gateway/route_table.h"
#include "gateway/upstream_pool.h"

namespace gantry::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

inline constexpr std::size_t kRelayBufferSize = 64 * 1024;  // per direction, per connection
inline constexpr std::chrono::seconds kWriteTimeout{60};    // one answer to a client

// Handlers in the coroutines report errors through `ec`, not exceptions.
inline auto Await(error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

// Per client connection: the stream (beast::tcp_stream, or MemoryStream in ServeInMemory),
// its read buffer (bounded: see RequestLimits), the relay buffers (allocated on the first
// invoke) and the peer's address ("" in memory).
template <class Stream>
struct Connection {
  Stream stream;
  beast::flat_buffer buffer;
  beast::flat_buffer upstream_buffer;  // reserved, with scratch, on the first invoke
  std::unique_ptr<char[]> scratch;
  std::string peer;
};
using HeaderParser = RequestParser<http::empty_body>;
using Response = http::response<http::string_body>;

// Shared with callbacks that may outlive the gateway: once `stopped`, nothing is posted.
struct Life {
  std::mutex mu;
  bool stopped = false;  // guarded by mu
};

class Gateway::Server {
 public:
  Server(GatewayOptions options, InvokeBackend& backend, std::vector<Route> routes);
  ~Server() { Stop(); }

  core::Status Start();
  void Stop();
  int port() const { return port_.load(); }
  Metrics& metrics() { return metrics_; }
  std::string ServeInMemory(std::string_view input);

 private:
  template <class Stream>
  class InvokeCall;  // invoke.cc

  // server.cc
  std::vector<Route> WithBuiltins(std::vector<Route> routes);
  void RunIo(std::size_t loop);
  // The idle upstream connections of the calling thread's io loop (ServeInMemory's thread:
  // a pool of its own). A pooled connection is bound to its loop's io_context, so it is only
  // ever taken by that loop's sessions.
  UpstreamPool& Upstreams();
  net::awaitable<void> AcceptLoop();
  void Refuse(tcp::socket& socket);
  net::awaitable<void> TcpSession(tcp::socket socket);

  // session.cc. Session serves requests until the connection ends; the others write one
  // answer (BadRequest and Write say whether the connection may carry another request).
  template <class Stream>
  net::awaitable<void> Session(Connection<Stream>& c);
  template <class Stream>
  net::awaitable<bool> BadRequest(Connection<Stream>& c, const error_code& ec, unsigned version);
  template <class Stream>
  net::awaitable<bool> Write(Connection<Stream>& c, Response& res);
  template <class Stream>
  net::awaitable<bool> WriteContinue(Connection<Stream>& c);
  std::string RequestErrorMessage(const error_code& ec) const;

  // invoke.cc: proxies one call (the head read, the body not yet); false: close.
  template <class Stream>
  net::awaitable<bool> Invoke(Connection<Stream>& c, HeaderParser& hp);

  // resolve.cc
  net::awaitable<core::Result<Target>> Resolve(const std::string& ns, const std::string& name);
  net::awaitable<error_code> Connect(UpstreamSocket& socket, const Target& t);

  // manage.cc: answers one management call (the head read, the body not yet); false: close.
  template <class Stream>
  net::awaitable<bool> Manage(Connection<Stream>& c, HeaderParser& hp);
  net::awaitable<ApiResponse> OnWorker(std::function<ApiResponse()> fn);
  template <class Stream>
  net::awaitable<bool> WriteStream(Connection<Stream>& c, ApiResponse r, unsigned version,
                                   bool keep);
  bool Authorized(const http::request_header<>& h) const;

  std::chrono::system_clock::time_point WallNow() const {
    return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
  }

  const GatewayOptions options_;
  InvokeBackend& backend_;
  const RouteTable routes_;
  const RequestLimits limits_;
  const core::Clock& clock_;  // options_.clock or the system's
  Metrics metrics_;
  UpstreamPool upstreams_;  // ServeInMemory's
  // One io loop per io thread: its io_context (run by that thread alone), the connections
  // it was handed at accept for their whole life, and its own upstream pool.
  struct IoLoop {
    std::unique_ptr<net::io_context> io;
    // Keeps run() going while the loop has no connection yet (until Stop).
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::unique_ptr<UpstreamPool> upstreams;
    std::thread thread;
  };
  std::vector<IoLoop> loops_;
  std::size_t next_loop_ = 0;  // the accept loop's only
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
  std::atomic<int> port_{0};
  std::atomic<int> connections_{0};    // client connections open
  std::atomic<int> api_in_flight_{0};  // management calls running or queued on the workers
  std::unique_ptr<net::thread_pool> workers_;
  std::optional<tcp::acceptor> acceptor_;  // on loops_[0]
};

}  // namespace gantry::gateway
