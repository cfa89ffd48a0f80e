#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <limits>
#include <optional>
#include <utility>

#include "core/call_id.h"
#include "gateway/error_mapping.h"
#include "gateway/http_fields.h"
#include "gateway/invoke_path.h"
#include "gateway/relay.h"
#include "gateway/server.h"

namespace gantry::gateway {
namespace {

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

// What the deadline timer of one call may touch; all on the session's io loop. The timer's
// handler may run after the call is over, so it checks `active` first.
template <class Stream>
struct Deadline {
  bool active = true;
  bool fired = false;
  UpstreamSocket* upstream = nullptr;
  Stream* client = nullptr;
};

}  // namespace

// One invoke call, in the order it happens (Run):
//   ParseTarget       the function and path from the target; the body limit
//   ResolveReplica    a replica from the backend (a lease, released exactly once)
//   ArmDeadline       the function's timeout, which closes both sides when it fires
//   PrepareRequest    the head for the replica: hop-by-hop headers out, call headers in
//   Exchange          per attempt: ConnectUpstream, ForwardRequest (100 Continue, head and
//                     body), ReadResponseHead; a stale pooled connection is tried once more
//   PrepareResponse   the head for the caller: call headers, framing for its HTTP version
//   RelayResponse     the body as it arrives; the connection back to the pool
// Every end after ResolveReplica goes through Finish (metrics, release). An end before the
// replica's answer is an Early: the gateway's own JSON error, or closing without one.
template <class Stream>
class Gateway::Server::InvokeCall {
 public:
  InvokeCall(Server& server, Connection<Stream>& c, HeaderParser& hp)
      : server_(server),
        c_(c),
        hp_(hp),
        wall_start_(server.WallNow()),
        start_(server.clock_.Now()),
        version_(hp.get().version()),
        head_(hp.get().method() == http::verb::head),
        body_pending_(!hp.is_done()),
        keep_(hp.get().keep_alive()),
        call_id_(hp.get()["X-Call-Id"]),
        start_time_(std::to_string(
            std::chrono::duration_cast<std::chrono::nanoseconds>(wall_start_.time_since_epoch())
                .count())) {
    if (call_id_.empty()) call_id_ = core::NewCallId();
  }
  ~InvokeCall() {
    if (deadline_) {
      deadline_state_->active = false;
      deadline_->cancel();
    }
  }
  InvokeCall(const InvokeCall&) = delete;
  InvokeCall& operator=(const InvokeCall&) = delete;

  // Returns whether the connection may carry another request.
  net::awaitable<bool> Run() {
    executor_ = co_await net::this_coro::executor;
    Step early = ParseTarget();
    if (!early) early = co_await ResolveReplica();
    if (!early) {
      ArmDeadline();
      PrepareRequest();
      early = co_await Exchange();
    }
    bool keep = false;
    if (early) {
      if (early->status != 0) error_ = early->message;  // what the caller was told
      keep = co_await Answer(*early);
    } else {
      const bool reusable = PrepareResponse();
      keep = co_await RelayResponse(reusable);
    }
    Record();
    co_return keep;
  }

 private:
  // The call ended before the replica's answer: the gateway answers `status` with
  // `message`, or, for status 0, closes the connection without an answer.
  struct Early {
    int status = 0;
    std::string message;
    std::string reason;  // a 5xx's reason when the backend's hint has none
  };
  using Step = std::optional<Early>;  // nullopt: go on to the next step

  Step ParseTarget() {
    auto parsed = ParseInvokePath(hp_.get().target());
    if (!parsed) {
      const bool missing = parsed.error().code() == core::ErrorCode::kNotFound;
      return Early{missing ? 404 : 400, parsed.error().message()};
    }
    ns_ = std::move(parsed->ns);
    name_ = std::move(parsed->name);
    path_ = std::move(parsed->path);
    const std::uint64_t limit = server_.options_.max_invoke_body;
    if (auto length = hp_.content_length(); length && *length > limit) {
      keep_ = false;
      return Early{413, fmt::format("request body of {} bytes is over the limit of {} bytes",
                                    *length, limit)};
    }
    return std::nullopt;
  }

  net::awaitable<Step> ResolveReplica() {
    auto resolved = co_await server_.Resolve(ns_, name_);
    resolved_at_ = server_.clock_.Now();
    if (!resolved) {
      int status = InvokeStatusFor(resolved.error().code());
      // Unknown names are not counted: any client could create series without end.
      if (status != 404) {
        server_.metrics_.RecordStarted(ns_, name_);
        server_.metrics_.RecordInvocation(ns_, name_, status, SecondsSinceStart(), false);
        record_ = true;
        status_ = status;
      }
      co_return ResolveFailed(status, resolved.error().message());
    }
    record_ = true;
    server_.metrics_.RecordStarted(ns_, name_);
    target_ = std::move(resolved).value();
    release_.emplace(std::move(target_.release));
    key_ = target_.unix_socket.empty() ? fmt::format("{}:{}", target_.host, target_.port)
                                       : target_.unix_socket;
    co_return std::nullopt;
  }

  void ArmDeadline() {
    deadline_state_ = std::make_shared<Deadline<Stream>>();
    deadline_state_->client = &c_.stream;
    deadline_.emplace(executor_);
    if (target_.timeout.count() <= 0) return;
    deadline_->expires_after(target_.timeout);
    deadline_->async_wait([state = deadline_state_](error_code ec) {
      auto& d = *state;
      if (ec || !d.active) return;
      d.fired = true;
      if (d.upstream) d.upstream->close(ec);
      if (d.client) d.client->cancel();
    });
  }

  // The request to the replica: same method, the path after the function, the caller's
  // headers without the hop-by-hop ones, and the call's own.
  void PrepareRequest() {
    bp_.emplace(std::move(hp_));
    bp_->body_limit(server_.options_.max_invoke_body);
    auto& out = bp_->get();
    expects_continue_ = ExpectsContinue(out);
    RemoveHopByHop(out);
    out.target(path_);
    out.version(11);
    out.set("X-Call-Id", call_id_);
    out.set("X-Start-Time", start_time_);
    if (!c_.peer.empty()) {
      auto xff = out.find("X-Forwarded-For");
      out.set("X-Forwarded-For",
              xff == out.end() ? c_.peer : fmt::format("{}, {}", xff->value(), c_.peer));
    }
    if (auto host = out.find(http::field::host); host != out.end())
      out.set("X-Forwarded-Host", host->value());
    if (!c_.scratch) {
      // Reads fill what a flat_buffer has room for (512 bytes when it is new): give room.
      c_.scratch = std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
      c_.buffer.reserve(kRelayBufferSize);
      c_.upstream_buffer.reserve(kRelayBufferSize);
    }
  }

  // A pooled connection the replica closed just as it was taken fails before any answer;
  // a request without a body is then sent again on a fresh connection.
  net::awaitable<Step> Exchange() {
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      Step early = co_await ConnectUpstream(attempt, reused);
      if (early) co_return early;
      error_code ec;  // writing to the replica, then reading its answer's head
      early = co_await ForwardRequest(attempt, ec);
      if (early) co_return early;
      if (!ec) ec = co_await ReadResponseHead();
      if (!ec) co_return std::nullopt;
      if (deadline_state_->fired) co_return Timeout(false);
      if (reused && !body_pending_) continue;
      // Not the replica's failure as far as anyone can tell: what a caller sends (a body
      // over the shim's limit, say) may make a replica close on it, and a caller must not be
      // able to kill replicas. Only a failed connect marks one failed; the pool's health
      // checks and the engine's events find those that are really broken.
      // The replica's socket path and Asio's words ("end of stream") are for no one: the
      // pool's log has the replica, the caller gets what the function did (Answer's hint).
      Finish(502, false,
             fmt::format("replica {} failed before answering: {}", target_.replica, ec.message()));
      keep_ = keep_ && bp_->is_done();
      co_return Early{502, fmt::format("function {}'s replica {} stopped before answering", name_,
                                       target_.replica)};
    }
  }

  // A pooled connection on the first attempt (`reused`), else a new one.
  net::awaitable<Step> ConnectUpstream(int attempt, bool& reused) {
    upstream_.reset();
    if (attempt == 0) upstream_ = server_.Upstreams().Take(key_);
    if (upstream_) {
      reused = true;
    } else {
      // On the session's io loop, whose pool keeps it for that loop's later sessions.
      upstream_.emplace(executor_);
      deadline_state_->upstream = &*upstream_;
      error_code ec = co_await server_.Connect(*upstream_, target_);
      if (ec) {
        if (deadline_state_->fired) co_return Timeout(false);
        Finish(502, true, fmt::format("connect to replica {}: {}", target_.replica, ec.message()));
        co_return Early{502, fmt::format("function {}'s replica {} could not be reached", name_,
                                         target_.replica)};
      }
    }
    deadline_state_->upstream = &*upstream_;
    co_return std::nullopt;
  }

  // Sends the head and relays the caller's body (after a 100 Continue if it asked, once).
  // The caller's errors end the call; a write error to the replica is left in `write_ec`.
  net::awaitable<Step> ForwardRequest(int attempt, error_code& write_ec) {
    if (expects_continue_ && body_pending_ && attempt == 0) {
      const bool continued = co_await server_.WriteContinue(c_);
      if (!continued) {
        Finish(499, false, "client closed the connection");
        co_return Early{};
      }
    }
    http::request_serializer<http::buffer_body> sr{bp_->get()};
    RelayResult sent = co_await RelayBody(c_.stream, c_.buffer, *bp_, *upstream_, sr,
                                          c_.scratch.get(), kRelayBufferSize);
    request_bytes_ = sent.bytes;
    if (deadline_state_->fired) co_return Timeout(true);
    if (sent.read_ec == http::error::body_limit) {
      Finish(413, false, "");
      keep_ = false;
      co_return Early{413, fmt::format("request body is over the limit of {} bytes",
                                       server_.options_.max_invoke_body)};
    }
    if (int bad = RequestErrorStatus(sent.read_ec); bad != 0) {  // broken framing, limits
      Finish(bad, false, "");
      keep_ = false;
      co_return Early{bad, server_.RequestErrorMessage(sent.read_ec)};
    }
    if (sent.read_ec) {  // the caller went away mid-body
      Finish(499, false, "client closed the connection");
      co_return Early{};
    }
    write_ec = sent.write_ec;
    co_return std::nullopt;
  }

  net::awaitable<error_code> ReadResponseHead() {
    // A replica is hostile ground too: its trailers and fields are bounded like a caller's
    // (and upstream_buffer, like the client's buffer, is bounded).
    parser_.emplace(server_.limits_);
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_) parser_->skip(true);
    c_.upstream_buffer.clear();
    error_code ec;
    co_await http::async_read_header(*upstream_, c_.upstream_buffer, *parser_, Await(ec));
    co_return ec;
  }

  // The replica's head as the caller gets it. Returns whether the upstream connection can
  // serve another call once the body is through.
  bool PrepareResponse() {
    auto& rp = *parser_;
    auto& res = rp.get();
    bool reusable = rp.keep_alive();
    RemoveHopByHop(res);
    if (rp.need_eof()) {
      // The replica ends its body by closing: chunk it for an HTTP/1.1 caller, or close.
      reusable = false;
      if (version_ >= 11) {
        res.chunked(true);
      } else {
        keep_ = false;
      }
    }
    res.version(version_);
    res.keep_alive(keep_ && bp_->is_done());
    res.set("X-Call-Id", call_id_);
    res.set("X-Start-Time", start_time_);
    res.set("X-Duration-Seconds", fmt::format("{:.6f}", SecondsSinceStart()));
    res.set("X-Cold-Start", target_.cold_start ? "true" : "false");
    res.set("X-Gantry-Start", target_.start);
    return reusable;
  }

  // The replica's answer, relayed as it arrives.
  net::awaitable<bool> RelayResponse(bool reusable) {
    auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    http::response_serializer<http::buffer_body> rs{res};
    c_.stream.expires_never();
    RelayResult relayed = co_await RelayBody(*upstream_, c_.upstream_buffer, *parser_, c_.stream,
                                             rs, c_.scratch.get(), kRelayBufferSize);
    response_bytes_ = relayed.bytes;
    const bool fired = deadline_state_->fired;
    if (!relayed.ok()) {
      // The head is out: the caller can only see the connection close on a short body.
      std::string reason = fired ? "timeout while relaying the response"
                           : relayed.read_ec
                               ? "replica closed mid-response: " + relayed.read_ec.message()
                               : "client closed the connection";
      Finish(fired ? 504 : status, false, reason);
      co_return false;
    }
    deadline_state_->upstream = nullptr;
    if (reusable && !fired && c_.upstream_buffer.size() == 0) {
      server_.Upstreams().Put(key_, std::move(*upstream_));
    }
    Finish(status, false, "");
    co_return res.keep_alive();
  }

  // An answer from the gateway itself (no replica's): JSON error with the call headers.
  net::awaitable<bool> Answer(const Early& early) {
    if (early.status == 0) co_return false;
    Response res{static_cast<http::status>(early.status), version_};
    res.set(http::field::content_type, "application/json");
    res.set("X-Call-Id", call_id_);
    res.set("X-Start-Time", start_time_);
    // A 5xx says what the function did, as far as the backend knows (never on the warm path).
    if (early.status >= 500) {
      FailureHint hint = server_.backend_.Hint(ns_, name_);
      if (hint.reason.empty()) hint.reason = early.reason;
      res.body() = InvokeErrorJson(early.status, early.message, name_, hint);
    } else {
      res.body() = ErrorJson(early.message, name_);
    }
    // An unread request body would be taken for the next request: close instead.
    res.keep_alive(keep_ && !body_pending_);
    co_return co_await server_.Write(c_, res);
  }

  // The function's timeout fired: 504. `close`: the request is partly sent, so the
  // connection can't carry another one.
  Early Timeout(bool close) {
    Finish(504, false, "timeout");
    if (close) keep_ = false;
    return Early{504, fmt::format("function {} did not answer within its timeout of {} ms", name_,
                                  target_.timeout.count())};
  }

  // The call is over (after ResolveReplica): counted, and its replica released. An upstream
  // connection not handed back to the idle pool is closed first, so that a call the caller
  // gave up (499) or that timed out (504) is seen ending by the shim, which frees its slot,
  // before the pool can lease that slot again (no spurious 429 from the shim).
  void Finish(int code, bool failed, const std::string& reason) {
    if (upstream_) {
      error_code ignored;
      upstream_->close(ignored);
    }
    server_.metrics_.RecordInvocation(ns_, name_, code, SecondsSinceStart(), target_.cold_start);
    status_ = code;
    error_ = reason;
    release_->Release(failed, reason);
  }

  // What a caller reads when no replica could be had: the pool's words for a queue that
  // is full (429), a slot that did not come in time (503) or a function that does not exist
  // (404); for a replica that could not start (502) that, with the pool's reason ("ns/name:
  // replica failed to start: <why>") as the reason when the backend has no better one.
  Early ResolveFailed(int status, const std::string& message) const {
    if (status != 502) return Early{status, message};
    constexpr std::string_view kFailedToStart = "replica failed to start: ";
    std::string_view why = message;
    const std::string own = ns_ + "/" + name_ + ": ";
    if (why.starts_with(own)) why.remove_prefix(own.size());
    if (why.starts_with(kFailedToStart)) why.remove_prefix(kFailedToStart.size());
    return Early{502, fmt::format("function {}'s replica failed to start", name_),
                 std::string(why)};
  }

  // The call's record for GatewayOptions::on_call, once the answer is out. The call is
  // over: its strings move into the record.
  void Record() {
    const CallRecordFn& on_call = server_.options_.on_call;
    if (!on_call || !record_) return;
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    on_call(CallRecord{.call_id = std::move(call_id_),
                       .ns = std::move(ns_),
                       .name = std::move(name_),
                       .generation = target_.generation,
                       .replica = std::move(target_.replica),
                       .memory_bytes = target_.memory_bytes,
                       .cold = target_.cold_start,
                       .start = target_.start,
                       .queue_wait = duration_cast<microseconds>(resolved_at_ - start_),
                       .run_time = duration_cast<microseconds>(server_.clock_.Now() - resolved_at_),
                       .status = status_,
                       .request_bytes = static_cast<int64_t>(request_bytes_),
                       .response_bytes = static_cast<int64_t>(response_bytes_),
                       .error = std::move(error_),
                       .started = wall_start_});
  }

  double SecondsSinceStart() const {
    return std::chrono::duration<double>(server_.clock_.Now() - start_).count();
  }

  Server& server_;
  Connection<Stream>& c_;
  HeaderParser& hp_;
  net::any_io_executor executor_;  // the session's io loop
  const std::chrono::system_clock::time_point wall_start_;
  const core::SteadyTime start_;
  const unsigned version_;
  const bool head_;
  const bool body_pending_;  // the caller's body is not read yet
  bool keep_;                // the caller's connection may carry another request
  std::string call_id_;
  const std::string start_time_;  // X-Start-Time: Unix time in nanoseconds
  std::string ns_, name_, path_;
  Target target_;
  std::string key_;  // of the upstream pool: the socket path or "host:port"
  std::optional<ReleaseOnce> release_;
  std::shared_ptr<Deadline<Stream>> deadline_state_;
  std::optional<net::steady_timer> deadline_;
  std::optional<RequestParser<http::buffer_body>> bp_;  // hp_, continued with the body
  bool expects_continue_ = false;
  std::optional<UpstreamSocket> upstream_;
  std::optional<ResponseParser<http::buffer_body>> parser_;
  // For the call's record (Record).
  bool record_ = false;  // a known function's call (resolved, or refused but not unknown)
  core::SteadyTime resolved_at_{};
  int status_ = 0;
  std::string error_;
  std::size_t request_bytes_ = 0;
  std::size_t response_bytes_ = 0;
};

template <class Stream>
net::awaitable<bool> Gateway::Server::Invoke(Connection<Stream>& c, HeaderParser& hp) {
  InvokeCall<Stream> call(*this, c, hp);
  co_return co_await call.Run();
}

template net::awaitable<bool> Gateway::Server::Invoke(Connection<beast::tcp_stream>&,
                                                      HeaderParser&);
template net::awaitable<bool> Gateway::Server::Invoke(Connection<MemoryStream>&, HeaderParser&);

}  // namespace gantry::gateway
