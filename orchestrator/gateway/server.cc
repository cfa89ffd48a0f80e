#include "gateway/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "core/log.h"
#include "gateway/error_mapping.h"

namespace gantry::gateway {
namespace {

// Counts a client connection while it lives.
struct ConnectionCount {
  std::atomic<int>& count;
  ~ConnectionCount() { count.fetch_sub(1); }
};

std::string ListenError(std::string_view what, std::string_view listen, const error_code& ec) {
  return fmt::format("listen on {}: {}: {}", listen, what, ec.message());
}

// The io loop the calling thread runs, if any (RunIo sets it for its thread's life).
struct CurrentLoop {
  const void* server = nullptr;
  UpstreamPool* upstreams = nullptr;
};
thread_local CurrentLoop current_loop;

}  // namespace

Gateway::Server::Server(GatewayOptions options, InvokeBackend& backend, std::vector<Route> routes)
    : options_(std::move(options)),
      backend_(backend),
      routes_(WithBuiltins(std::move(routes))),
      clock_(options_.clock != nullptr ? *options_.clock : core::SystemClock::Instance()),
      upstreams_(options_.max_idle_upstream) {}

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
  if (!loops_.empty()) return core::Error::Conflict("the gateway is already started");
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

  // One io_context per io thread (Envoy's worker model): a connection is handed to a loop
  // at accept and stays there, so a warm call's completions never move between threads
  // and need no strand; each loop keeps its own upstream connections.
  const auto io_threads = static_cast<std::size_t>(std::max(1, options_.io_threads));
  loops_.resize(io_threads);
  for (auto& loop : loops_) {
    loop.io = std::make_unique<net::io_context>(1);
    loop.work.emplace(loop.io->get_executor());
    loop.upstreams = std::make_unique<UpstreamPool>(options_.max_idle_upstream);
  }
  acceptor_.emplace(*loops_[0].io);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port_number));
  auto fail = [&](std::string_view what) {
    std::string message = ListenError(what, listen, ec);
    acceptor_.reset();
    loops_.clear();
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
  net::co_spawn(*loops_[0].io, AcceptLoop(), net::detached);
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    loops_[i].thread = std::thread([this, i] { RunIo(i); });
  }
  core::Log(core::LogLevel::kDebug, "gateway listening on {}:{}", host, port_.load());
  return core::Ok();
}

void Gateway::Server::Stop() {
  if (loops_.empty()) return;
  {
    // From here on a late Resolve callback releases its replica itself, posting nothing.
    std::lock_guard lock(life_->mu);
    life_->stopped = true;
  }
  for (auto& loop : loops_) {
    loop.work.reset();
    loop.io->stop();
  }
  for (auto& loop : loops_) loop.thread.join();
  // Running handlers finish; what they post back lands in the stopped io_contexts.
  workers_->join();
  for (auto& loop : loops_) loop.upstreams->Clear();
  upstreams_.Clear();
  acceptor_.reset();
  // Destroys the suspended sessions: their ReleaseOnce guards release their replicas.
  for (auto& loop : loops_) loop.io.reset();
  loops_.clear();
  workers_.reset();
  port_ = 0;
}

// The last line of defence: an exception from a completion handler (a library throwing
// where it should not) ends that handler's operation, and its session with it, but neither
// the thread nor gantryd.
void Gateway::Server::RunIo(std::size_t loop) {
  current_loop = {this, loops_[loop].upstreams.get()};
  for (;;) {
    try {
      loops_[loop].io->run();
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
    // Round robin over the loops: the connection lives on the one it is accepted for.
    net::io_context& io = *loops_[next_loop_].io;
    next_loop_ = (next_loop_ + 1) % loops_.size();
    error_code ec;
    tcp::socket socket = co_await acceptor_->async_accept(io, Await(ec));
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) {
      // Out of file descriptors, most likely: pause rather than spin.
      core::Log(core::LogLevel::kWarn, "gateway: accept: {}", ec.message());
      net::steady_timer pause(*loops_[0].io, std::chrono::milliseconds(100));
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
  Connection<beast::tcp_stream> c{
      beast::tcp_stream(std::move(socket)), beast::flat_buffer(limits_.head_bytes),
      beast::flat_buffer(limits_.head_bytes), nullptr, ec ? "" : remote.address().to_string()};
  co_await Session(c);
}

UpstreamPool& Gateway::Server::Upstreams() {
  if (current_loop.server == this && current_loop.upstreams != nullptr) {
    return *current_loop.upstreams;
  }
  return upstreams_;
}

std::string Gateway::Server::ServeInMemory(std::string_view input) {
  net::io_context io(1);
  Connection<MemoryStream> c{MemoryStream(io, input), beast::flat_buffer(limits_.head_bytes),
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
