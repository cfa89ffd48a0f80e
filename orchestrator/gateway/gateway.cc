#include "gateway/gateway.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "core/log.h"
#include "core/unix_socket.h"
#include "gateway/bounded_parser.h"
#include "gateway/error_mapping.h"
#include "gateway/invoke_path.h"
#include "gateway/memory_stream.h"
#include "gateway/route_table.h"
#include "gateway/upstream_pool.h"
#include "gateway/url.h"

namespace gantry::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

constexpr std::size_t kRelayBufferSize = 64 * 1024;
constexpr std::chrono::seconds kWriteTimeout{60};

// Handlers in the coroutines report errors through `ec`, not exceptions.
inline auto Await(error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

// A unique call id in the UUID v4 form OpenFaaS uses.
std::string NewCallId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = rng();
  std::uint64_t b = rng();
  a = (a & 0xffffffffffff0fffull) | 0x0000000000004000ull;  // version 4
  b = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff,
                     b >> 48, b & 0xffffffffffffull);
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Removes the hop-by-hop headers (RFC 9110 7.6.1), and those the Connection header names,
// keeping the message framing (Content-Length, Transfer-Encoding), which the serializer
// reproduces for the next hop.
template <bool isRequest>
void RemoveHopByHop(http::header<isRequest>& h) {
  std::vector<std::string> named;
  for (auto token : http::token_list(h[http::field::connection])) {
    named.emplace_back(token);
  }
  for (const auto& n : named) {
    if (!IEquals(n, "transfer-encoding") && !IEquals(n, "content-length")) h.erase(n);
  }
  h.erase(http::field::connection);
  h.erase(http::field::keep_alive);
  h.erase(http::field::proxy_authenticate);
  h.erase(http::field::proxy_authorization);
  h.erase(http::field::proxy_connection);
  h.erase(http::field::te);
  h.erase(http::field::trailer);
  h.erase(http::field::upgrade);
  h.erase(http::field::expect);  // answered here (100 Continue), not by the replica
}

bool ExpectsContinue(const http::request_header<>& h) {
  auto it = h.find(http::field::expect);
  return it != h.end() && IEquals(it->value(), "100-continue");
}

// Calls the release callback exactly once: explicitly, or as "call abandoned" when the
// call is torn down without an answer (the gateway stopping).
class ReleaseOnce {
 public:
  explicit ReleaseOnce(std::function<void(bool, const std::string&)> f) : f_(std::move(f)) {}
  ReleaseOnce(const ReleaseOnce&) = delete;
  ReleaseOnce& operator=(const ReleaseOnce&) = delete;
  ~ReleaseOnce() { Release(false, "call abandoned"); }

  void Release(bool failed, const std::string& reason) {
    if (!f_) return;
    auto f = std::move(f_);
    f_ = nullptr;
    f(failed, reason);
  }

 private:
  std::function<void(bool, const std::string&)> f_;
};

// What the deadline timer of one call may touch; all on the session's strand. The timer's
// handler may run after the call is over, so it checks `active` first.
template <class Stream>
struct Deadline {
  bool active = true;
  bool fired = false;
  UpstreamSocket* upstream = nullptr;
  Stream* client = nullptr;
};

void ShutdownSend(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}
void ShutdownSend(MemoryStream& stream) {
  stream.shutdown_send();
}

// What a Resolve callback shares with the waiting coroutine: the result, and the timer
// that the coroutine waits on (touched only on the session's strand).
struct ResolveSlot {
  std::mutex mu;
  std::optional<core::Result<Target>> result;  // guarded by mu
  bool in_resolve = true;  // guarded by mu; Resolve has not returned: no wake-up needed
  // The session's strand, while the coroutine lives (guarded by mu). Not captured by the
  // callback itself: the backend may keep that past the io_context, and an executor must
  // not outlive its io_context.
  std::optional<net::any_io_executor> executor;
  net::steady_timer* wake = nullptr;  // strand only
};

// Shared with callbacks that may outlive the gateway: once `stopped`, nothing is posted.
struct Life {
  std::mutex mu;
  bool stopped = false;  // guarded by mu
};

struct RelayResult {
  error_code read_ec;
  error_code write_ec;
  bool ok() const { return !read_ec && !write_ec; }
};

// Relays one message body from `in` (whose header `p` has read) to `out` (whose serializer
// `sr` writes p's message), a buffer at a time, so large bodies are never held whole.
// Returns the first read or write error.
template <bool isRequest, class In, class Out>
net::awaitable<RelayResult> RelayBody(In& in, beast::flat_buffer& in_buffer,
                                      http::parser<isRequest, http::buffer_body>& p, Out& out,
                                      http::serializer<isRequest, http::buffer_body>& sr,
                                      char* scratch, std::size_t size) {
  RelayResult r;
  do {
    auto& body = p.get().body();
    if (!p.is_done()) {
      body.data = scratch;
      body.size = size;
      co_await http::async_read_some(in, in_buffer, p, Await(r.read_ec));
      if (r.read_ec == http::error::need_buffer) r.read_ec = {};
      if (r.read_ec) co_return r;
      body.size = size - body.size;
      // No bytes yet (only a chunk header came): a null buffer, because an empty one would
      // go out as a zero-length chunk, which ends a chunked body.
      body.data = body.size > 0 ? scratch : nullptr;
      body.more = !p.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    co_await http::async_write(out, sr, Await(r.write_ec));
    if (r.write_ec == http::error::need_buffer) r.write_ec = {};
    if (r.write_ec) co_return r;
  } while (!p.is_done() || !sr.is_done());
  co_return r;
}

// Counts the management calls given to the workers (running or queued) while it lives.
class ApiSlot {
 public:
  explicit ApiSlot(std::atomic<int>& count) : count_(count) {}
  ApiSlot(const ApiSlot&) = delete;
  ApiSlot& operator=(const ApiSlot&) = delete;
  ~ApiSlot() {
    if (held_) count_.fetch_sub(1);
  }
  // Takes a slot when fewer than `limit` are taken.
  bool TryTake(int limit) {
    int n = count_.load();
    while (n < limit) {
      if (count_.compare_exchange_weak(n, n + 1)) return held_ = true;
    }
    return false;
  }

 private:
  std::atomic<int>& count_;
  bool held_ = false;
};

// Counts a client connection while it lives.
struct ConnectionCount {
  std::atomic<int>& count;
  ~ConnectionCount() { count.fetch_sub(1); }
};

ApiResponse JsonResponse(int status, std::string_view message) {
  ApiResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

std::string ListenError(std::string_view what, std::string_view listen, const error_code& ec) {
  return fmt::format("listen on {}: {}: {}", listen, what, ec.message());
}

}  // namespace

class Gateway::Server {
 public:
  Server(GatewayOptions options, InvokeBackend& backend, std::vector<Route> routes)
      : options_(std::move(options)),
        backend_(backend),
        routes_(WithBuiltins(std::move(routes))),
        upstreams_(options_.max_idle_upstream) {}

  ~Server() { Stop(); }

  core::Status Start();
  void Stop();
  int port() const { return port_.load(); }
  Metrics& metrics() { return metrics_; }
  std::string ServeInMemory(std::string_view input);

 private:
  // Per client connection: the stream (beast::tcp_stream, or MemoryStream in
  // ServeInMemory), its read buffer (bounded: see RequestLimits), the relay buffers
  // (allocated on the first invoke) and the peer.
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

  std::vector<Route> WithBuiltins(std::vector<Route> routes);
  void RunIo();

  net::awaitable<void> AcceptLoop();
  void Refuse(tcp::socket& socket);
  template <class Stream>
  net::awaitable<void> Session(Connection<Stream>& c);
  net::awaitable<void> TcpSession(tcp::socket socket);
  template <class Stream>
  net::awaitable<bool> Invoke(Connection<Stream>& c, HeaderParser& hp);
  template <class Stream>
  net::awaitable<bool> Manage(Connection<Stream>& c, HeaderParser& hp);
  template <class Stream>
  net::awaitable<bool> BadRequest(Connection<Stream>& c, const error_code& ec, unsigned version);
  net::awaitable<core::Result<Target>> Resolve(const std::string& ns, const std::string& name);
  net::awaitable<ApiResponse> OnWorker(std::function<ApiResponse()> fn);
  template <class Stream>
  net::awaitable<bool> Write(Connection<Stream>& c, Response& res);
  template <class Stream>
  net::awaitable<bool> WriteContinue(Connection<Stream>& c);
  net::awaitable<error_code> Connect(UpstreamSocket& socket, const Target& t);
  bool Authorized(const http::request_header<>& h) const;
  std::string RequestErrorMessage(const error_code& ec) const;

  const GatewayOptions options_;
  InvokeBackend& backend_;
  const RouteTable routes_;
  const RequestLimits limits_;
  Metrics metrics_;
  UpstreamPool upstreams_;
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
  std::atomic<int> port_{0};
  std::atomic<int> connections_{0};    // client connections open
  std::atomic<int> api_in_flight_{0};  // management calls running or queued on the workers
  std::unique_ptr<net::thread_pool> workers_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<net::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
};

std::vector<Route> Gateway::Server::WithBuiltins(std::vector<Route> routes) {
  routes.push_back({"GET", "/healthz",
                    [](const ApiRequest&) -> core::Result<ApiResponse> {
                      return ApiResponse{200, "text/plain", "OK", {}};
                    },
                    false, true});
  // Rendering takes the metrics' locks briefly and calls the collectors, which read
  // in-memory state only: cheap enough for the io thread.
  routes.push_back(
      {"GET", "/metrics",
       [this](const ApiRequest&) -> core::Result<ApiResponse> {
         return ApiResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(), {}};
       },
       false, true});
  return routes;
}

core::Status Gateway::Server::Start() {
  if (io_) return core::Error::Conflict("the gateway is already started");
  const std::string& listen = options_.listen;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return core::Error::InvalidArgument(
        fmt::format("listen address \"{}\" is not host:port", listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port_number = 0;
  try {
    std::size_t used = 0;
    port_number = std::stoul(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port_number > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return core::Error::InvalidArgument(fmt::format("listen address \"{}\": bad port", listen));
  }
  error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    return core::Error::InvalidArgument(
        fmt::format("listen address \"{}\": \"{}\" is not an IP address", listen, host));
  }
  if (!options_.auth_disabled && options_.token.empty()) {
    return core::Error::InvalidArgument("no API token and auth is not disabled");
  }

  int io_threads = std::max(1, options_.io_threads);
  io_ = std::make_unique<net::io_context>(io_threads);
  acceptor_.emplace(*io_);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port_number));
  auto fail = [&](std::string_view what) {
    std::string message = ListenError(what, listen, ec);
    acceptor_.reset();
    io_.reset();
    return core::Error::Unavailable(std::move(message));
  };
  if (acceptor_->open(endpoint.protocol(), ec); ec) return fail("socket");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec)
    return fail("SO_REUSEADDR");
  if (acceptor_->bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  port_ = acceptor_->local_endpoint(ec).port();

  {
    std::lock_guard lock(life_->mu);
    life_->stopped = false;
  }
  workers_ = std::make_unique<net::thread_pool>(
      static_cast<std::size_t>(std::max(1, options_.worker_threads)));
  net::co_spawn(*io_, AcceptLoop(), net::detached);
  for (int i = 0; i < io_threads; ++i) io_threads_.emplace_back([this] { RunIo(); });
  core::Log(core::LogLevel::kDebug, "gateway listening on {}:{}", host, port_.load());
  return core::Ok();
}

void Gateway::Server::Stop() {
  if (!io_) return;
  {
    // From here on a late Resolve callback releases its replica itself, posting nothing.
    std::lock_guard lock(life_->mu);
    life_->stopped = true;
  }
  io_->stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  // Running handlers finish; what they post back lands in the stopped io_context.
  workers_->join();
  upstreams_.Clear();
  acceptor_.reset();
  // Destroys the suspended sessions: their ReleaseOnce guards release their replicas.
  io_.reset();
  workers_.reset();
  port_ = 0;
}

// The last line of defence: an exception from a completion handler (a library throwing
// where it should not) ends that handler's operation, and its session with it, but neither
// the thread nor gantryd.
void Gateway::Server::RunIo() {
  for (;;) {
    try {
      io_->run();
      return;
    } catch (const std::exception& e) {
      core::Log(core::LogLevel::kError, "gateway: io thread: uncaught exception: {}", e.what());
    } catch (...) {
      core::Log(core::LogLevel::kError, "gateway: io thread: uncaught exception");
    }
  }
}

// Over the connection cap: a short 503 written without waiting (a fresh socket's send
// buffer takes it), then closed, so a flood of connections costs no more than its accepts.
void Gateway::Server::Refuse(tcp::socket& socket) {
  static const std::string kAnswer = [] {
    std::string body = ErrorJson("too many connections; retry later");
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
        body.size(), body);
  }();
  error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(kAnswer), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

net::awaitable<void> Gateway::Server::AcceptLoop() {
  for (;;) {
    tcp::socket socket(net::make_strand(*io_));
    error_code ec;
    co_await acceptor_->async_accept(socket, Await(ec));
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) {
      // Out of file descriptors, most likely: pause rather than spin.
      core::Log(core::LogLevel::kWarn, "gateway: accept: {}", ec.message());
      net::steady_timer pause(*io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(Await(ec));
      continue;
    }
    if (connections_.fetch_add(1) >= std::max(1, options_.max_connections)) {
      connections_.fetch_sub(1);
      Refuse(socket);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    net::co_spawn(executor, TcpSession(std::move(socket)), net::detached);
  }
}

net::awaitable<void> Gateway::Server::TcpSession(tcp::socket socket) {
  ConnectionCount count{connections_};
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  Connection<beast::tcp_stream> c{beast::tcp_stream(std::move(socket)),
                                  beast::flat_buffer(limits_.head_bytes),
                                  beast::flat_buffer(limits_.head_bytes),
                                  nullptr,
                                  ec ? "" : remote.address().to_string()};
  co_await Session(c);
}

template <class Stream>
net::awaitable<void> Gateway::Server::Session(Connection<Stream>& c) {
  error_code ec;
  try {
    for (;;) {
      // Idle (up to idle_timeout) until the first byte of a request, unless one came
      // pipelined; from there the whole head must come within header_timeout.
      if (c.buffer.size() == 0) {
        c.stream.expires_after(options_.idle_timeout);
        std::size_t n = co_await c.stream.async_read_some(
            c.buffer.prepare(beast::read_size(c.buffer, kRelayBufferSize)), Await(ec));
        c.buffer.commit(n);
        if (ec) break;  // closed, reset or idle: nobody to answer
      }
      HeaderParser hp{limits_};
      // Each kind of request sets its own limit. (Not boost::none: Beast 1.74 then refuses
      // every Content-Length.)
      hp.body_limit(std::numeric_limits<std::uint64_t>::max());
      c.stream.expires_after(options_.header_timeout);
      co_await http::async_read_header(c.stream, c.buffer, hp, Await(ec));
      c.stream.expires_never();
      if (ec) {
        if (ec == beast::error::timeout) {
          // The stream is closed on expiry: there is no answering a slow head.
          core::Log(core::LogLevel::kDebug, "gateway: {}: request head not complete in {} ms",
                    c.peer, options_.header_timeout.count());
        } else if (RequestErrorStatus(ec) != 0) {
          co_await BadRequest(c, ec, 11);
        }
        break;
      }
      bool keep = hp.get().target().starts_with(kInvokePrefix) ? co_await Invoke(c, hp)
                                                               : co_await Manage(c, hp);
      if (!keep) break;
    }
  } catch (const std::exception& e) {
    core::Log(core::LogLevel::kError, "gateway: connection from {}: {}", c.peer, e.what());
  }
  ShutdownSend(c.stream);
}

// A request the gateway can't read on: 400, 413 or 431 JSON, and the connection closes (the
// rest of the stream can't be told apart from the next request). Returns false.
template <class Stream>
net::awaitable<bool> Gateway::Server::BadRequest(Connection<Stream>& c, const error_code& ec,
                                                 unsigned version) {
  Response res{static_cast<http::status>(RequestErrorStatus(ec)), version < 10 ? 11 : version};
  res.set(http::field::content_type, "application/json");
  res.body() = ErrorJson(RequestErrorMessage(ec));
  res.keep_alive(false);
  co_await Write(c, res);
  co_return false;
}

std::string Gateway::Server::RequestErrorMessage(const error_code& ec) const {
  if (ec == http::error::header_limit) {
    return fmt::format(
        "request header or trailer fields over the limit ({} bytes for the head, {} per field, "
        "{} for the trailers)",
        limits_.head_bytes, limits_.field_bytes, limits_.trailer_bytes);
  }
  if (ec == http::error::buffer_overflow) {
    return fmt::format("a chunk header or the trailers are over the limit of {} bytes",
                       limits_.head_bytes);
  }
  return fmt::format("bad request: {}", ec.message());
}

template <class Stream>
net::awaitable<bool> Gateway::Server::Write(Connection<Stream>& c, Response& res) {
  res.prepare_payload();
  c.stream.expires_after(kWriteTimeout);
  error_code ec;
  co_await http::async_write(c.stream, res, Await(ec));
  c.stream.expires_never();
  co_return !ec && res.keep_alive();
}

template <class Stream>
net::awaitable<bool> Gateway::Server::WriteContinue(Connection<Stream>& c) {
  http::response<http::empty_body> res{http::status::continue_, 11};
  c.stream.expires_after(kWriteTimeout);
  error_code ec;
  co_await http::async_write(c.stream, res, Await(ec));
  c.stream.expires_never();
  co_return !ec;
}

net::awaitable<core::Result<Target>> Gateway::Server::Resolve(const std::string& ns,
                                                              const std::string& name) {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer wake(executor, net::steady_timer::time_point::max());
  auto slot = std::make_shared<ResolveSlot>();
  slot->wake = &wake;
  slot->executor = executor;
  struct Forget {  // also when the frame is destroyed by Stop
    ResolveSlot& slot;
    ~Forget() {
      std::lock_guard lock(slot.mu);
      slot.executor.reset();
    }
  } forget{*slot};
  backend_.Resolve(ns, name, [slot, life = life_](core::Result<Target> r) {
    std::lock_guard life_lock(life->mu);
    if (life->stopped) {
      if (r.ok() && r->release) r->release(false, "gateway stopped");
      return;
    }
    std::lock_guard lock(slot->mu);
    slot->result.emplace(std::move(r));
    // The warm path: answered before Resolve returned, so the coroutine has not waited.
    if (slot->in_resolve || !slot->executor) return;
    net::post(*slot->executor, [slot] {
      if (slot->wake) slot->wake->cancel();
    });
  });
  {
    std::lock_guard lock(slot->mu);
    slot->in_resolve = false;
  }
  for (;;) {
    {
      std::lock_guard lock(slot->mu);
      if (slot->result) break;
    }
    error_code ec;
    co_await wake.async_wait(Await(ec));
  }
  slot->wake = nullptr;  // the posted cancel may still come, after `wake` is gone
  std::lock_guard lock(slot->mu);
  co_return std::move(*slot->result);
}

net::awaitable<error_code> Gateway::Server::Connect(UpstreamSocket& socket, const Target& t) {
  error_code ec;
  if (!t.unix_socket.empty()) {
    // A replica's socket directory is written by the function: connect only to the socket
    // found there (pinned, no symlink followed), never to what a symlink points at.
    auto pinned = core::PinnedSocket::Open(t.unix_socket);
    if (!pinned) {
      if (pinned.error().code() == core::ErrorCode::kNotFound) {
        co_return net::error::make_error_code(net::error::not_found);
      }
      core::Log(core::LogLevel::kWarn, "gateway: {}", pinned.error().message());
      co_return net::error::make_error_code(net::error::access_denied);
    }
    net::local::stream_protocol::endpoint local(pinned->connect_path());
    co_await socket.async_connect(UpstreamSocket::endpoint_type(local), Await(ec));
    co_return ec;
  }
  auto address = net::ip::make_address(t.host, ec);
  if (ec) co_return ec;
  if (t.port <= 0 || t.port > 65535)
    co_return net::error::make_error_code(net::error::invalid_argument);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(t.port));
  co_await socket.async_connect(UpstreamSocket::endpoint_type(endpoint), Await(ec));
  if (!ec) socket.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

template <class Stream>
net::awaitable<bool> Gateway::Server::Invoke(Connection<Stream>& c, HeaderParser& hp) {
  const auto wall_start = std::chrono::system_clock::now();
  const auto start = std::chrono::steady_clock::now();
  auto& req = hp.get();
  const unsigned version = req.version();
  const bool head = req.method() == http::verb::head;
  bool keep = req.keep_alive();
  const bool body_pending = !hp.is_done();
  std::string call_id(req["X-Call-Id"]);
  if (call_id.empty()) call_id = NewCallId();
  const std::string start_time = std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall_start.time_since_epoch()).count());
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  std::string ns, name;
  // An answer from the gateway itself (no replica's): JSON error with the call headers.
  auto fail = [&](int status, std::string_view message) -> net::awaitable<bool> {
    Response res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, "application/json");
    res.set("X-Call-Id", call_id);
    res.set("X-Start-Time", start_time);
    res.body() = ErrorJson(message, name);
    // An unread request body would be taken for the next request: close instead.
    res.keep_alive(keep && !body_pending);
    co_return co_await Write(c, res);
  };

  auto parsed = ParseInvokePath(req.target());
  if (!parsed) co_return co_await fail(400, parsed.error().message());
  ns = std::move(parsed->ns);
  name = std::move(parsed->name);
  if (auto length = hp.content_length(); length && *length > options_.max_invoke_body) {
    keep = false;
    co_return co_await fail(
        413, fmt::format("request body of {} bytes is over the limit of {} bytes", *length,
                         options_.max_invoke_body));
  }

  auto resolved = co_await Resolve(ns, name);
  if (!resolved) {
    int status = InvokeStatusFor(resolved.error().code());
    // Unknown names are not counted: any client could create series without end.
    if (status != 404) metrics_.RecordInvocation(ns, name, status, seconds_since_start(), false);
    co_return co_await fail(status, resolved.error().message());
  }
  Target target = std::move(resolved).value();
  ReleaseOnce release(std::move(target.release));
  const bool cold = target.cold_start;
  int status = 0;
  auto finish = [&](int code, bool failed, const std::string& reason) {
    status = code;
    metrics_.RecordInvocation(ns, name, code, seconds_since_start(), cold);
    release.Release(failed, reason);
  };

  auto executor = co_await net::this_coro::executor;
  auto deadline_state = std::make_shared<Deadline<Stream>>();
  deadline_state->client = &c.stream;
  net::steady_timer deadline(executor);
  if (target.timeout.count() > 0) {
    deadline.expires_after(target.timeout);
    deadline.async_wait([deadline_state](error_code ec) {
      auto& d = *deadline_state;
      if (ec || !d.active) return;
      d.fired = true;
      if (d.upstream) d.upstream->close(ec);
      if (d.client) d.client->cancel();
    });
  }
  struct EndDeadline {
    Deadline<Stream>& d;
    net::steady_timer& t;
    ~EndDeadline() {
      d.active = false;
      t.cancel();
    }
  } end_deadline{*deadline_state, deadline};
  auto timeout_message = [&] {
    return fmt::format("function did not answer within its timeout of {} ms",
                       target.timeout.count());
  };

  const std::string tcp_key =
      target.unix_socket.empty() ? fmt::format("{}:{}", target.host, target.port) : "";
  const std::string& key = target.unix_socket.empty() ? tcp_key : target.unix_socket;

  // The request to the replica: same method, the path after the function, the caller's
  // headers without the hop-by-hop ones, and the call's own.
  RequestParser<http::buffer_body> bp{std::move(hp)};
  bp.body_limit(options_.max_invoke_body);
  auto& out = bp.get();
  const bool expects_continue = ExpectsContinue(out);
  RemoveHopByHop(out);
  out.target(parsed->path);
  out.version(11);
  out.set("X-Call-Id", call_id);
  out.set("X-Start-Time", start_time);
  if (!c.peer.empty()) {
    auto xff = out.find("X-Forwarded-For");
    out.set("X-Forwarded-For",
            xff == out.end() ? c.peer : fmt::format("{}, {}", xff->value(), c.peer));
  }
  if (auto host = out.find(http::field::host); host != out.end())
    out.set("X-Forwarded-Host", host->value());
  if (!c.scratch) {
    // Reads fill what a flat_buffer has room for (512 bytes when it is new): give room.
    c.scratch = std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    c.buffer.reserve(kRelayBufferSize);
    c.upstream_buffer.reserve(kRelayBufferSize);
  }

  // A pooled connection the replica closed just as it was taken fails before any answer;
  // a request without a body is then sent again on a fresh connection.
  std::optional<UpstreamSocket> upstream;
  beast::flat_buffer& upstream_buffer = c.upstream_buffer;
  std::optional<ResponseParser<http::buffer_body>> parser;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    upstream.reset();
    if (attempt == 0) upstream = upstreams_.Take(key);
    if (upstream) {
      reused = true;
    } else {
      // On the io_context, not the strand: pooled, it serves other sessions later.
      if (io_) {
        upstream.emplace(io_->get_executor());
      } else {
        upstream.emplace(executor);  // ServeInMemory
      }
      deadline_state->upstream = &*upstream;
      error_code ec = co_await Connect(*upstream, target);
      if (ec) {
        if (deadline_state->fired) {
          finish(504, false, "timeout");
          co_return co_await fail(504, timeout_message());
        }
        std::string reason =
            fmt::format("connect to replica {} ({}): {}", target.replica, key, ec.message());
        finish(502, true, reason);
        co_return co_await fail(502, reason);
      }
    }
    deadline_state->upstream = &*upstream;

    if (expects_continue && body_pending && attempt == 0 && !co_await WriteContinue(c)) {
      finish(499, false, "client closed the connection");
      co_return false;
    }
    http::request_serializer<http::buffer_body> sr{out};
    RelayResult sent = co_await RelayBody(c.stream, c.buffer, bp, *upstream, sr, c.scratch.get(),
                                          kRelayBufferSize);
    if (deadline_state->fired) {
      finish(504, false, "timeout");
      keep = false;
      co_return co_await fail(504, timeout_message());
    }
    if (sent.read_ec == http::error::body_limit) {
      finish(413, false, "");
      keep = false;
      co_return co_await fail(
          413, fmt::format("request body is over the limit of {} bytes", options_.max_invoke_body));
    }
    if (int bad = RequestErrorStatus(sent.read_ec); bad != 0) {  // broken framing, limits
      finish(bad, false, "");
      keep = false;
      co_return co_await fail(bad, RequestErrorMessage(sent.read_ec));
    }
    if (sent.read_ec) {  // the caller went away mid-body
      finish(499, false, "client closed the connection");
      co_return false;
    }
    error_code ec = sent.write_ec;
    if (!ec) {
      // A replica is hostile ground too: its trailers and fields are bounded like a
      // caller's (and upstream_buffer, like the client's buffer, is bounded).
      parser.emplace(limits_);
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (head) parser->skip(true);
      upstream_buffer.clear();
      co_await http::async_read_header(*upstream, upstream_buffer, *parser, Await(ec));
    }
    if (!ec) break;
    if (deadline_state->fired) {
      finish(504, false, "timeout");
      keep = keep && !body_pending;
      co_return co_await fail(504, timeout_message());
    }
    if (reused && !body_pending) continue;
    // Not the replica's failure as far as anyone can tell: what a caller sends (a body over
    // the shim's limit, say) may make a replica close on it, and a caller must not be able
    // to kill replicas. Only a failed connect marks one failed; the pool's health checks and
    // the engine's events find those that are really broken.
    std::string reason = fmt::format("replica {} ({}) failed before answering: {}", target.replica,
                                     key, ec.message());
    finish(502, false, reason);
    keep = keep && bp.is_done();
    co_return co_await fail(502, reason);
  }

  // The replica's answer, relayed as it arrives.
  auto& rp = *parser;
  auto& res = rp.get();
  const bool upstream_keep = rp.keep_alive();
  bool reusable = upstream_keep;
  RemoveHopByHop(res);
  if (rp.need_eof()) {
    // The replica ends its body by closing: chunk it for an HTTP/1.1 caller, or close.
    reusable = false;
    if (version >= 11) {
      res.chunked(true);
    } else {
      keep = false;
    }
  }
  res.version(version);
  res.keep_alive(keep && bp.is_done());
  res.set("X-Call-Id", call_id);
  res.set("X-Start-Time", start_time);
  res.set("X-Duration-Seconds", fmt::format("{:.6f}", seconds_since_start()));
  res.set("X-Cold-Start", cold ? "true" : "false");
  status = static_cast<int>(res.result_int());

  http::response_serializer<http::buffer_body> rs{res};
  c.stream.expires_never();
  RelayResult relayed = co_await RelayBody(*upstream, upstream_buffer, rp, c.stream, rs,
                                           c.scratch.get(), kRelayBufferSize);
  if (!relayed.ok()) {
    // The head is out: the caller can only see the connection close on a short body.
    std::string reason = deadline_state->fired ? "timeout while relaying the response"
                         : relayed.read_ec
                             ? "replica closed mid-response: " + relayed.read_ec.message()
                             : "client closed the connection";
    finish(deadline_state->fired ? 504 : status, false, reason);
    co_return false;
  }
  deadline_state->upstream = nullptr;
  if (reusable && !deadline_state->fired && upstream_buffer.size() == 0) {
    upstreams_.Put(key, std::move(*upstream));
  }
  finish(status, false, "");
  co_return res.keep_alive();
}

bool Gateway::Server::Authorized(const http::request_header<>& h) const {
  if (options_.auth_disabled) return true;
  std::string_view value = h[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() < kBearer.size() || !IEquals(value.substr(0, kBearer.size()), kBearer))
    return false;
  std::string_view token = value.substr(kBearer.size());
  const std::string& want = options_.token;
  if (want.empty() || token.size() != want.size()) return false;
  unsigned char diff = 0;  // constant time over the token's length
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (token[i] ^ want[i]));
  }
  return diff == 0;
}

net::awaitable<ApiResponse> Gateway::Server::OnWorker(std::function<ApiResponse()> fn) {
  co_return co_await net::async_initiate<const net::use_awaitable_t<>&, void(ApiResponse)>(
      [this](auto handler, std::function<ApiResponse()> f) {
        net::post(*workers_, [h = std::move(handler), f = std::move(f)]() mutable {
          ApiResponse r = f();
          auto ex = net::get_associated_executor(h);
          net::post(ex,
                    [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      net::use_awaitable, std::move(fn));
}

template <class Stream>
net::awaitable<bool> Gateway::Server::Manage(Connection<Stream>& c, HeaderParser& hp) {
  auto& req = hp.get();
  const unsigned version = req.version();
  const bool body_pending = !hp.is_done();
  bool keep = req.keep_alive();
  auto split = SplitTarget(req.target());

  auto answer = [&](ApiResponse r) -> net::awaitable<bool> {
    Response res{static_cast<http::status>(r.status), version};
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    res.keep_alive(keep);
    co_return co_await Write(c, res);
  };
  auto error = [&](int status, std::string_view message) {
    keep = keep && !body_pending;
    return answer(JsonResponse(status, message));
  };

  RouteTable::Match match = routes_.Find(req.method_string(), split.path);
  if (match.kind == RouteTable::Match::kNotFound) {
    co_return co_await error(
        404, fmt::format("no route for {} {}", std::string_view(req.method_string()), split.path));
  }
  if (match.kind == RouteTable::Match::kMethodNotAllowed) {
    keep = keep && !body_pending;
    ApiResponse r = JsonResponse(
        405,
        fmt::format("{} is not allowed on {}", std::string_view(req.method_string()), split.path));
    r.headers.emplace("Allow", match.allow);
    co_return co_await answer(std::move(r));
  }
  if (match.route->needs_auth && !Authorized(req)) {
    keep = keep && !body_pending;
    ApiResponse r = JsonResponse(401, "missing or wrong bearer token in Authorization");
    r.headers.emplace("WWW-Authenticate", "Bearer realm=\"gantry\"");
    co_return co_await answer(std::move(r));
  }
  if (auto length = hp.content_length(); length && *length > options_.max_api_body) {
    keep = false;
    co_return co_await error(
        413, fmt::format("request body of {} bytes is over the limit of {} bytes", *length,
                         options_.max_api_body));
  }

  // Bounded: handlers may block for a long time (an apply waits for builds), and a queue
  // without end would hold every caller's memory and socket meanwhile.
  ApiSlot slot(api_in_flight_);
  if (!match.route->on_io_thread &&
      !slot.TryTake(std::max(1, options_.worker_threads) + std::max(0, options_.max_api_queue))) {
    keep = keep && !body_pending;
    ApiResponse r = JsonResponse(
        503,
        fmt::format("gantryd is busy ({} management calls running, {} queued); retry",
                    std::max(1, options_.worker_threads), std::max(0, options_.max_api_queue)));
    r.headers.emplace("Retry-After", "1");
    co_return co_await answer(std::move(r));
  }

  ApiRequest api;
  api.method = std::string(req.method_string());
  api.path = std::string(split.path);
  api.target = std::string(req.target());
  api.query = ParseQuery(split.query);
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    api.headers.emplace(std::move(name), std::string(field.value()));
  }
  api.params = std::move(match.params);
  if (body_pending) {
    if (ExpectsContinue(req) && !co_await WriteContinue(c)) co_return false;
    RequestParser<http::string_body> sp{std::move(hp)};
    sp.body_limit(options_.max_api_body);
    error_code ec;
    c.stream.expires_after(options_.idle_timeout);
    co_await http::async_read(c.stream, c.buffer, sp, Await(ec));
    c.stream.expires_never();
    if (ec == http::error::body_limit) {
      keep = false;
      co_return co_await error(
          413, fmt::format("request body is over the limit of {} bytes", options_.max_api_body));
    }
    if (ec && RequestErrorStatus(ec) != 0) co_return co_await BadRequest(c, ec, version);
    if (ec) co_return false;
    api.body = std::move(sp.get().body());
  }

  // Built outside the co_await expression: g++ 12 mishandles a lambda with a move capture
  // created inside one (the capture was destroyed twice).
  const Route* route = match.route;
  std::function<ApiResponse()> work = [route, api = std::move(api)]() -> ApiResponse {
    try {
      return ToApiResponse(route->handler(api));
    } catch (const std::exception& e) {
      return ToApiResponse(
          core::Error::Internal(fmt::format("{} {}: {}", api.method, api.path, e.what())));
    }
  };
  // Inline without workers too: ServeInMemory runs on one thread and never Start()s. (Not
  // a conditional around the co_await: g++ 12 gets temporaries wrong in one.)
  ApiResponse r;
  if (route->on_io_thread || !workers_) {
    r = work();
  } else {
    r = co_await OnWorker(std::move(work));
  }
  co_return co_await answer(std::move(r));
}

std::string Gateway::Server::ServeInMemory(std::string_view input) {
  net::io_context io(1);
  Connection<MemoryStream> c{
      MemoryStream(io, input), beast::flat_buffer(limits_.head_bytes),
      beast::flat_buffer(limits_.head_bytes), nullptr, ""};
  // Exceptions are not caught here: for a fuzzer, one escaping is the finding.
  net::co_spawn(io, Session(c), net::detached);
  io.run();
  upstreams_.Clear();
  return c.stream.output();
}

Gateway::Gateway(GatewayOptions options, InvokeBackend& backend, std::vector<Route> routes)
    : server_(std::make_unique<Server>(std::move(options), backend, std::move(routes))) {}

Gateway::~Gateway() = default;

core::Status Gateway::Start() {
  return server_->Start();
}
void Gateway::Stop() {
  server_->Stop();
}
int Gateway::port() const {
  return server_->port();
}
Metrics& Gateway::metrics() {
  return server_->metrics();
}
std::string Gateway::ServeInMemory(std::string_view input) {
  return server_->ServeInMemory(input);
}

}  // namespace gantry::gateway
