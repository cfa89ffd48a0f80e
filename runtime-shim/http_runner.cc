#include "http_runner.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <limits>
#include <string_view>

#include "log.h"

namespace gantry::shim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxIdle = 64;
// Responses up to this size are answered whole (one write); larger ones are streamed.
constexpr std::size_t kBufferUpTo = std::size_t{64} * 1024;
constexpr std::size_t kChunkSize = std::size_t{64} * 1024;
constexpr auto kProbeInterval = std::chrono::milliseconds(20);

// Headers that belong to one hop, not to the message (RFC 9110 7.6.1).
constexpr http::field kHopByHop[] = {
    http::field::connection,       http::field::keep_alive,
    http::field::proxy_connection, http::field::te,
    http::field::trailer,          http::field::transfer_encoding,
    http::field::upgrade,          http::field::proxy_authenticate,
};

template <class Message>
void StripHopByHop(Message& message) {
  for (auto field : kHopByHop) message.erase(field);
}

// What the function server did, for the caller and the log: in words, not Asio's
// ("end of stream").
std::string ServerFailure(std::string_view step, const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return "closed the connection before answering";
  }
  if (ec == http::error::partial_message) return "closed the connection mid-answer";
  if (ec == asio::error::connection_refused) return "refused the connection";
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return "sent an answer that is not valid HTTP";
  }
  return std::string(step) + " failed: " + ec.message();
}

void NoDelay(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
}

}  // namespace

struct HttpRunner::Exchange {
  std::shared_ptr<Call> call;
  std::unique_ptr<tcp::socket> socket;
  bool reused = false;
  bool retried = false;
  uint64_t generation = 0;
  HttpRequest request;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::unique_ptr<char[]> chunk;           // allocated on first use, left uninitialised
  std::string collected;                   // the body so far, while not streaming
  std::shared_ptr<ResponseStream> stream;  // once streaming
};

HttpRunner::HttpRunner(asio::io_context& io, const ShimConfig& config, const Clock& clock,
                       ProcessReaper& reaper)
    : io_(io), config_(config), clock_(clock), reaper_(reaper), probe_timer_(io) {}

bool HttpRunner::Start(FatalFn on_fatal, std::string& error) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(
      config_.upstream_host == "localhost" ? "127.0.0.1" : config_.upstream_host, ec);
  if (ec) {
    error = "upstream \"" + config_.upstream_host + "\" is not an IP address";
    return false;
  }
  upstream_ = tcp::endpoint(address, config_.upstream_port);
  ProcessSupervisor::Hooks hooks;
  hooks.on_started = [this] {
    ++generation_;
    ready_ = false;
    probe_until_ = clock_.Now() + config_.ready_timeout;
    Probe();
  };
  hooks.on_exit = [this](int) {
    ready_ = false;
    idle_.clear();
    probe_timer_.cancel();
    if (probe_socket_) {
      boost::system::error_code ignored;
      probe_socket_->close(ignored);
    }
  };
  hooks.call_id = [this] { return active_.size() == 1 ? active_.begin()->first : std::string(); };
  hooks.on_fatal = std::move(on_fatal);
  supervisor_.emplace(io_, reaper_, clock_, "function server", config_.command,
                      CurrentEnvironment(), std::move(hooks));
  return supervisor_->Start(error);
}

void HttpRunner::Probe() {
  if (stopped_ || ready_) return;
  uint64_t generation = generation_;
  probe_socket_ = std::make_shared<tcp::socket>(io_);
  auto socket = probe_socket_;
  socket->async_connect(upstream_, [this, socket, generation](const boost::system::error_code& ec) {
    if (stopped_ || generation != generation_ || ready_) return;
    if (!ec) {
      ready_ = true;
      supervisor_->MarkReady();
      LogShim("function server accepting on " + upstream_.address().to_string() + ":" +
              std::to_string(upstream_.port()));
      NoDelay(*socket);
      idle_.push_back(std::make_unique<tcp::socket>(std::move(*socket)));
      auto waiting = std::move(waiting_);
      waiting_.clear();
      for (auto& w : waiting) {
        if (!w.call->finished()) Proxy(w.call, w.resent);
      }
      return;
    }
    if (clock_.Now() >= probe_until_) {
      LogShim("function server not accepting on port " + std::to_string(upstream_.port()) +
              " after " + std::to_string(config_.ready_timeout.count()) + " ms; restarting it");
      supervisor_->Kill(SIGKILL);
      return;
    }
    probe_timer_.expires_after(kProbeInterval);
    probe_timer_.async_wait([this](const boost::system::error_code& timer_ec) {
      if (!timer_ec) Probe();
    });
  });
}

void HttpRunner::Invoke(const std::shared_ptr<Call>& call) {
  if (stopped_) {
    call->Finish(ErrorReply(503, "shim is stopping", call->id()));
    return;
  }
  if (!ready_) {
    waiting_.push_back({call});
    return;
  }
  Proxy(call);
}

void HttpRunner::Proxy(const std::shared_ptr<Call>& call, bool resent) {
  auto exchange = std::make_shared<Exchange>();
  exchange->call = call;
  exchange->retried = resent;
  exchange->generation = generation_;
  exchange->request = call->request();
  StripHopByHop(exchange->request);
  exchange->request.version(11);
  exchange->request.keep_alive(true);
  exchange->request.prepare_payload();
  active_[call->id()] = exchange;
  if (!idle_.empty()) {
    exchange->socket = std::move(idle_.back());
    idle_.pop_back();
    exchange->reused = true;
    Send(exchange);
    return;
  }
  Connect(exchange);
}

void HttpRunner::Connect(const std::shared_ptr<Exchange>& exchange) {
  exchange->socket = std::make_unique<tcp::socket>(io_);
  exchange->socket->async_connect(upstream_, [this, exchange](const boost::system::error_code& ec) {
    if (ec == asio::error::connection_refused && !exchange->call->finished() && !stopped_) {
      // The server went away (its exit may not have been reaped yet): nothing was sent, so
      // the call waits for it to accept again, within its deadline.
      active_.erase(exchange->call->id());
      waiting_.push_back({exchange->call, exchange->retried});
      if (ready_) {
        ready_ = false;
        idle_.clear();
        probe_until_ = clock_.Now() + config_.ready_timeout;
        Probe();
      }
      return;
    }
    if (ec) {
      Fail(exchange, ServerFailure("connect", ec));
      return;
    }
    NoDelay(*exchange->socket);
    Send(exchange);
  });
}

void HttpRunner::Send(const std::shared_ptr<Exchange>& exchange) {
  http::async_write(*exchange->socket, exchange->request,
                    [this, exchange](const boost::system::error_code& ec, std::size_t) {
                      if (ec) {
                        Fail(exchange, ServerFailure("send", ec));
                        return;
                      }
                      exchange->parser.emplace();
                      exchange->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
                      if (exchange->request.method() == http::verb::head)
                        exchange->parser->skip(true);
                      http::async_read_header(
                          *exchange->socket, exchange->buffer, *exchange->parser,
                          [this, exchange](const boost::system::error_code& read_ec, std::size_t) {
                            if (read_ec) {
                              Fail(exchange, ServerFailure("read", read_ec));
                              return;
                            }
                            auto& parser = *exchange->parser;
                            auto length = parser.content_length();
                            if (!parser.is_done() && (!length || *length > kBufferUpTo)) {
                              // Large or open-ended (chunked, server-sent
                              // events): send the head now, relay the body
                              // as it comes.
                              auto head = parser.get().base();
                              StripHopByHop(head);
                              exchange->stream = exchange->call->StartStream(std::move(head));
                              if (!exchange->stream) {
                                Abandon(exchange->call);
                                return;
                              }
                            }
                            ReadBody(exchange);
                          });
                    });
}

void HttpRunner::ReadBody(const std::shared_ptr<Exchange>& exchange) {
  auto& parser = *exchange->parser;
  if (parser.is_done()) {
    Done(exchange);
    return;
  }
  if (!exchange->chunk) exchange->chunk = std::make_unique_for_overwrite<char[]>(kChunkSize);
  parser.get().body().data = exchange->chunk.get();
  parser.get().body().size = kChunkSize;
  http::async_read_some(
      *exchange->socket, exchange->buffer, parser,
      [this, exchange](boost::system::error_code ec, std::size_t) {
        if (ec == http::error::need_buffer) ec = {};  // the chunk buffer is full: pass it on
        if (ec) {
          if (exchange->stream) {
            LogShim("call " + exchange->call->id() +
                    ": function server broke off its response: " + ServerFailure("read", ec));
            active_.erase(exchange->call->id());
            exchange->stream->End(false);
            return;
          }
          Fail(exchange, ServerFailure("read", ec));
          return;
        }
        std::size_t got = kChunkSize - exchange->parser->get().body().size;
        std::string bytes(exchange->chunk.get(), got);
        if (!exchange->stream) {
          exchange->collected += bytes;
          ReadBody(exchange);
          return;
        }
        exchange->stream->Write(std::move(bytes), [this, exchange](bool ok) {
          if (!ok) {  // the client went away: so does the upstream connection
            Abandon(exchange->call);
            return;
          }
          ReadBody(exchange);
        });
      });
}

void HttpRunner::Done(const std::shared_ptr<Exchange>& exchange) {
  // A streamed body's call is over with its last bytes (before this): a new call may have
  // taken its id meanwhile.
  if (auto it = active_.find(exchange->call->id()); it != active_.end() && it->second == exchange) {
    active_.erase(it);
  }
  bool keep = exchange->parser->keep_alive();
  if (exchange->stream) {
    exchange->stream->End(true);
  } else {
    HttpResponse response(std::move(exchange->parser->get().base()));
    StripHopByHop(response);
    response.body() = std::move(exchange->collected);
    exchange->call->Finish(std::move(response));
  }
  if (keep && !stopped_ && exchange->generation == generation_ && ready_ &&
      idle_.size() < kMaxIdle && exchange->buffer.size() == 0) {
    idle_.push_back(std::move(exchange->socket));
  }
}

void HttpRunner::Fail(const std::shared_ptr<Exchange>& exchange, const std::string& what) {
  auto& call = exchange->call;
  // A kept-alive connection the server closed meanwhile: try once more on a new one.
  if (exchange->reused && !exchange->retried && !call->finished() && !stopped_ &&
      (exchange->parser == std::nullopt || !exchange->parser->got_some())) {
    exchange->retried = true;
    exchange->reused = false;
    exchange->buffer.clear();
    exchange->parser.reset();
    exchange->collected.clear();
    Connect(exchange);
    return;
  }
  active_.erase(call->id());
  if (call->finished()) return;
  LogShim("call " + call->id() + ": function server " + what);
  call->Finish(ErrorReply(502, "function server " + what, call->id()));
}

void HttpRunner::Abandon(const std::shared_ptr<Call>& call) {
  auto it = active_.find(call->id());
  if (it != active_.end()) {
    auto exchange = it->second;
    active_.erase(it);
    boost::system::error_code ignored;
    if (exchange->socket) exchange->socket->close(ignored);
    if (exchange->stream) exchange->stream->End(false);
  }
  std::erase_if(waiting_, [&](const Waiting& w) { return w.call == call; });
}

void HttpRunner::Stop(int signal) {
  stopped_ = true;
  probe_timer_.cancel();
  for (auto& w : waiting_) w.call->Finish(ErrorReply(503, "shim is stopping", w.call->id()));
  waiting_.clear();
  if (supervisor_) supervisor_->Stop(signal);
}

}  // namespace gantry::shim
