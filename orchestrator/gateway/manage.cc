#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/base64.h"
#include "gateway/error_mapping.h"
#include "gateway/http_fields.h"
#include "gateway/server.h"
#include "gateway/url.h"

// g++ 12 (-O2) reports Asio's awaitable frames, which have their own operator new and
// delete, as a mismatched new/delete at the end of Manage in this file (not while Manage
// was in gateway.cc): a false positive, which clang does not report.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace gantry::gateway {
namespace {

// Counts the management calls given to the workers (running or queued) while it lives.
class ApiSlot {
 public:
  explicit ApiSlot(std::atomic<int>& count) : count_(count) {}
  ApiSlot(const ApiSlot&) = delete;
  ApiSlot& operator=(const ApiSlot&) = delete;
  ~ApiSlot() { Release(); }
  void Release() {
    if (held_) count_.fetch_sub(1);
    held_ = false;
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

// What a BodyStream's callback shares with the coroutine sending the stream: the chunk,
// and the timer the coroutine waits on (touched only on the session's io loop). As in
// Resolve (resolve.cc), the executor is not captured by the callback itself, which may
// outlive the io_context.
struct ChunkSlot {
  std::mutex mu;
  std::optional<std::pair<std::string, bool>> chunk;  // guarded by mu: (chunk, done)
  std::optional<net::any_io_executor> executor;       // guarded by mu, while the frame lives
  net::steady_timer* wake = nullptr;                  // the io loop only
};

// Whether the client has closed or half-closed its side (a streamed answer's request was
// read whole, so anything readable now is its end). Only a real socket can tell.
template <class Stream>
bool PeerGone(Stream& stream) {
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    pollfd p{.fd = stream.socket().native_handle(), .events = POLLRDHUP, .revents = 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  } else {
    return false;
  }
}

ApiResponse JsonResponse(int status, std::string_view message) {
  ApiResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

}  // namespace

namespace {

// Whether `given` is `want`, in time that depends on `want`'s length only.
bool SameSecret(std::string_view given, std::string_view want) {
  if (want.empty() || given.size() != want.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (given[i] ^ want[i]));
  }
  return diff == 0;
}

}  // namespace

// `Bearer <token>`, or HTTP Basic auth as OpenFaaS's gateway takes it (faas-cli login): user
// `admin`, the token as the password.
bool Gateway::Server::Authorized(const http::request_header<>& h) const {
  if (options_.auth_disabled) return true;
  std::string_view value = h[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  constexpr std::string_view kBasic = "Basic ";
  if (value.size() > kBearer.size() && IEquals(value.substr(0, kBearer.size()), kBearer)) {
    return SameSecret(value.substr(kBearer.size()), options_.token);
  }
  if (value.size() > kBasic.size() && IEquals(value.substr(0, kBasic.size()), kBasic)) {
    auto pair = core::Base64Decode(value.substr(kBasic.size()));
    if (!pair) return false;
    constexpr std::string_view kUser = "admin:";
    std::string_view credentials = *pair;
    return credentials.starts_with(kUser) &&
           SameSecret(credentials.substr(kUser.size()), options_.token);
  }
  return false;
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

// Sends `r` as a stream: the head, `r.body`, then every chunk r.stream delivers, chunked
// (HTTP/1.1) or raw until the connection closes (HTTP/1.0). While it waits for a chunk it
// checks once a second that the client is still there; when it is gone, or a write fails,
// or the gateway stops, the stream is cancelled. Returns whether the connection may carry
// another request.
template <class Stream>
net::awaitable<bool> Gateway::Server::WriteStream(Connection<Stream>& c, ApiResponse r,
                                                  unsigned version, bool keep) {
  std::shared_ptr<BodyStream> body = std::move(r.stream);
  struct CancelUnlessDone {  // also when the frame is destroyed by Stop
    BodyStream& stream;
    bool done = false;
    ~CancelUnlessDone() {
      if (!done) stream.Cancel();
    }
  } cancel{*body};
  const bool chunked = version >= 11;
  if (!chunked) keep = false;
  http::response<http::empty_body> res{static_cast<http::status>(r.status), version};
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(keep);
  if (chunked) res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  error_code ec;
  c.stream.expires_after(kWriteTimeout);
  co_await http::async_write_header(c.stream, sr, Await(ec));
  c.stream.expires_never();
  if (ec) co_return false;

  auto send = [&](const std::string& data) -> net::awaitable<bool> {
    if (data.empty()) co_return true;  // an empty chunk would end the body
    error_code wec;
    c.stream.expires_after(kWriteTimeout);
    if (chunked) {
      co_await net::async_write(c.stream, http::make_chunk(net::buffer(data)), Await(wec));
    } else {
      co_await net::async_write(c.stream, net::buffer(data), Await(wec));
    }
    c.stream.expires_never();
    co_return !wec;
  };
  if (!co_await send(r.body)) co_return false;

  auto executor = co_await net::this_coro::executor;
  net::steady_timer wake(executor);
  auto slot = std::make_shared<ChunkSlot>();
  slot->wake = &wake;
  slot->executor = executor;
  struct Forget {
    ChunkSlot& slot;
    ~Forget() {
      std::lock_guard lock(slot.mu);
      slot.executor.reset();
      slot.wake = nullptr;
    }
  } forget{*slot};
  for (;;) {
    body->Next([slot, life = life_](std::string chunk, bool done) {
      std::lock_guard life_lock(life->mu);
      if (life->stopped) return;
      std::lock_guard lock(slot->mu);
      if (!slot->executor) return;
      slot->chunk.emplace(std::move(chunk), done);
      net::post(*slot->executor, [slot] {
        if (slot->wake) slot->wake->cancel();
      });
    });
    std::optional<std::pair<std::string, bool>> got;
    for (;;) {
      {
        std::lock_guard lock(slot->mu);
        if (slot->chunk) {
          got = std::move(slot->chunk);
          slot->chunk.reset();
          break;
        }
      }
      if (PeerGone(c.stream)) co_return false;  // ~CancelUnlessDone cancels
      wake.expires_after(std::chrono::seconds(1));
      error_code wait_ec;
      co_await wake.async_wait(Await(wait_ec));
    }
    if (!co_await send(got->first)) co_return false;
    if (got->second) break;
  }
  cancel.done = true;
  if (chunked) {
    c.stream.expires_after(kWriteTimeout);
    co_await net::async_write(c.stream, http::make_chunk_last(), Await(ec));
    c.stream.expires_never();
    if (ec) co_return false;
  }
  co_return keep;
}

template <class Stream>
net::awaitable<bool> Gateway::Server::Manage(Connection<Stream>& c, HeaderParser& hp) {
  auto& req = hp.get();
  const unsigned version = req.version();
  const bool body_pending = !hp.is_done();
  bool keep = req.keep_alive();
  auto split = SplitTarget(req.target());

  auto answer = [&](ApiResponse r) -> net::awaitable<bool> {
    if (r.stream) co_return co_await WriteStream(c, std::move(r), version, keep);
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
  if (match.route->needs_auth && !Authorized(req) &&
      !(match.route->also_authorized &&
        match.route->also_authorized(req[http::field::authorization], match.params))) {
    keep = keep && !body_pending;
    ApiResponse r =
        JsonResponse(401,
                     "missing or wrong credentials in Authorization (a bearer token, or basic auth "
                     "as user admin with the token as the password)");
    r.headers.emplace("WWW-Authenticate", "Bearer realm=\"gantry\", Basic realm=\"gantry\"");
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
  slot.Release();  // a stream holds a connection, not a worker
  co_return co_await answer(std::move(r));
}

template net::awaitable<bool> Gateway::Server::Manage(Connection<beast::tcp_stream>&,
                                                      HeaderParser&);
template net::awaitable<bool> Gateway::Server::WriteStream(Connection<beast::tcp_stream>&,
                                                           ApiResponse, unsigned, bool);
template net::awaitable<bool> Gateway::Server::WriteStream(Connection<MemoryStream>&, ApiResponse,
                                                           unsigned, bool);
template net::awaitable<bool> Gateway::Server::Manage(Connection<MemoryStream>&, HeaderParser&);

}  // namespace gantry::gateway
