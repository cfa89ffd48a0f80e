#include "http_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <deque>
#include <optional>

#include "log.h"

namespace gantry::shim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::generic::stream_protocol::socket;

HttpResponse TextResponse(unsigned status, std::string body, unsigned version) {
  HttpResponse response{static_cast<http::status>(status), version};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse JsonResponse(unsigned status, std::string body, unsigned version) {
  HttpResponse response{static_cast<http::status>(status), version};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

namespace {

// One client connection: read a request, let the handler answer (watching for the client
// to hang up meanwhile), write, repeat.
class Session final : public ClientConnection, public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, std::shared_ptr<const std::size_t> body_limit, RequestHandler handler)
      : socket_(std::move(socket)),
        body_limit_(std::move(body_limit)),
        handler_(std::move(handler)) {}

  void Read() {
    parser_.emplace();
    limit_ = *body_limit_;  // the listener's limit now: it may change between requests
    parser_->body_limit(limit_);
    parser_->header_limit(64 * 1024);
    http::async_read_header(
        socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) {
            self->OnRead(ec);
            return;
          }
          self->ReserveBody();
          http::async_read(
              self->socket_, self->buffer_, *self->parser_,
              [self](beast::error_code body_ec, std::size_t) { self->OnRead(body_ec); });
        });
  }

 private:
  // A body of known length gets exactly its size (Beast reserves it). One without (chunked)
  // would grow by doubling, and the copy at the last step needs ~1.5x the limit: a 64 MiB
  // body in a 128Mi replica got the shim OOM-killed. Reserving the limit up front costs
  // address space only (the pages are touched as the body arrives), so what the body holds
  // is what it costs.
  void ReserveBody() {
    if (parser_->is_done() || parser_->content_length() || limit_ > kReserveMax) return;
    parser_->get().body().reserve(limit_);
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      Shutdown();
      return;
    }
    if (ec == http::error::body_limit) {
      // The caller (the gateway) is still sending: read and drop the rest while the 413
      // goes out, so its write completes and it reads an answer rather than a reset that
      // would look like a dead replica.
      HttpResponse response{http::status::payload_too_large, parser_->get().version()};
      response.set(http::field::content_type, "application/json");
      response.body() = "{\"error\":\"request body is over the limit of " + std::to_string(limit_) +
                        " bytes\"}\n";
      response.prepare_payload();
      Drain();
      Write(std::move(response), /*close=*/true);
      return;
    }
    if (ec) {
      if (ec != asio::error::bad_descriptor)
        Write(TextResponse(400, "bad request: " + ec.message() + "\n"), true);
      return;
    }
    HttpRequest request = parser_->release();
    bool keep_alive = request.keep_alive();
    unsigned version = request.version();
    auto self = shared_from_this();
    answering_ = false;
    auto unanswered = std::make_shared<Unanswered>(self, ++requests_);
    Responder responder(
        [self, keep_alive, version, unanswered](HttpResponse response) {
          response.version(version);
          bool close = !keep_alive || !response.keep_alive();
          response.keep_alive(!close);
          self->Write(std::move(response), close);
        },
        [self, unanswered] {
          self->answering_ = true;
          return std::static_pointer_cast<ResponseStream>(std::make_shared<RawStream>(self));
        },
        self);
    responder.keep_alive = keep_alive;
    responder.version = version;
    handler_(std::move(request), std::move(responder));
    if (!answering_ && !watching_) Watch();
  }

  // Held by every copy of one request's responder: when the last goes without an answer
  // begun, the connection closes (the watch would otherwise keep it open).
  struct Unanswered {
    Unanswered(const std::shared_ptr<Session>& s, std::uint64_t n) : session(s), request(n) {}
    ~Unanswered() {
      if (auto s = session.lock(); s && s->requests_ == request && !s->answering_) s->Shutdown();
    }
    std::weak_ptr<Session> session;
    std::uint64_t request;
  };

 public:
  void OnHangUp(std::function<void()> fn) override { on_hang_up_ = std::move(fn); }

  bool HungUp() override {
    if (peer_closed_) return true;
    pollfd fd{socket_.native_handle(), POLLRDHUP, 0};
    return ::poll(&fd, 1, 0) == 1 && (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

 private:
  // Reads while the request is answered, so that the client closing the connection is
  // seen while the call runs. Bytes that come (a pipelined request) stay in buffer_ for
  // the next Read.
  void Watch() {
    if (buffer_.size() >= kWatchBytes) return;  // the client is far ahead: let it wait
    watching_ = true;
    socket_.async_read_some(
        buffer_.prepare(kWatchChunk),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->OnWatch(ec, n); });
  }

  void OnWatch(beast::error_code ec, std::size_t n) {
    watching_ = false;
    buffer_.commit(n);
    if (ec && ec != asio::error::operation_aborted) peer_closed_ = true;
    if (resume_) {  // the answer is out: this read was the next request's
      resume_ = false;
      Next();
      return;
    }
    if (peer_closed_) {
      auto fn = std::move(on_hang_up_);
      on_hang_up_ = nullptr;
      if (fn) fn();
      return;
    }
    if (!ec) Watch();
  }

  // The answer is completely written: read the next request. A watch still outstanding
  // becomes that read: the request's first bytes (or the close) complete it, and Read
  // parses them from buffer_. Cancelling it instead cost a loop turn and a read that found
  // nothing, on every request of a kept-alive connection.
  void Next() {
    on_hang_up_ = nullptr;
    if (peer_closed_) {
      Shutdown();
      return;
    }
    if (watching_) {
      resume_ = true;
      return;
    }
    Read();
  }

  // The connection as a byte stream for one streamed response. Writes go out one at a
  // time, in order (asio allows one write in flight per socket); End waits for them.
  class RawStream final : public ResponseStream, public std::enable_shared_from_this<RawStream> {
   public:
    explicit RawStream(std::shared_ptr<Session> session) : session_(std::move(session)) {}
    void Write(std::string bytes, std::function<void(bool ok)> done) override {
      if (failed_ || ended_) {
        done(false);
        return;
      }
      queue_.push_back({std::move(bytes), std::move(done)});
      if (!writing_) WriteNext();
    }
    void End(bool ok) override {
      if (ended_) return;
      ended_ = true;
      end_ok_ = ok;
      if (!writing_) Finish();
    }

   private:
    struct Pending {
      std::string bytes;
      std::function<void(bool ok)> done;
    };

    void WriteNext() {
      if (queue_.empty()) {
        writing_ = false;
        if (ended_) Finish();
        return;
      }
      writing_ = true;
      asio::async_write(session_->socket_, asio::buffer(queue_.front().bytes),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          Pending done = std::move(self->queue_.front());
                          self->queue_.pop_front();
                          if (ec) self->failed_ = true;
                          done.done(!ec);
                          if (self->failed_) {
                            for (auto& rest : self->queue_) rest.done(false);
                            self->queue_.clear();
                          }
                          self->WriteNext();
                        });
    }
    void Finish() {
      if (end_ok_ && !failed_) {
        session_->Next();
      } else {
        session_->Shutdown();
      }
    }

    std::shared_ptr<Session> session_;
    std::deque<Pending> queue_;
    bool writing_ = false;
    bool ended_ = false;
    bool end_ok_ = false;
    bool failed_ = false;
  };

  void Write(HttpResponse response, bool close) {
    answering_ = true;
    if (close) response.keep_alive(false);
    auto message = std::make_shared<HttpResponse>(std::move(response));
    http::async_write(
        socket_, *message,
        [self = shared_from_this(), message, close](beast::error_code ec, std::size_t) {
          if (ec || close) {
            self->Shutdown();
            return;
          }
          self->Next();
        });
  }

  void Shutdown() {
    on_hang_up_ = nullptr;
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    if (draining_) return;  // Drain closes once the peer is done sending
    socket_.close(ignored);
  }

  // Reads and drops whatever the peer still sends (up to kDrainBytes, for kDrainTime), then
  // closes the connection.
  void Drain() {
    draining_ = true;
    drain_timer_.emplace(socket_.get_executor(), kDrainTime);
    drain_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->StopDrain();
    });
    buffer_.consume(buffer_.size());
    DrainSome();
  }
  void DrainSome() {
    socket_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kDrainBytes) {
                                self->StopDrain();
                                return;
                              }
                              self->DrainSome();
                            });
  }
  void StopDrain() {
    if (!draining_) return;
    draining_ = false;
    if (drain_timer_) drain_timer_->cancel();
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  static constexpr std::size_t kWatchChunk = 4096;
  static constexpr std::size_t kWatchBytes = std::size_t{64} * 1024;
  static constexpr std::size_t kDrainBytes = std::size_t{1} << 30;
  static constexpr std::size_t kReserveMax = std::size_t{1} << 30;  // limits past it: no reserve
  static constexpr std::chrono::seconds kDrainTime{30};

  std::function<void()> on_hang_up_;  // while a request is answered
  std::uint64_t requests_ = 0;        // read so far: the current one's number
  bool answering_ = false;            // its response (or stream) has begun
  bool watching_ = false;             // Watch's read is outstanding
  bool resume_ = false;               // that read is the next request's (Next)
  bool peer_closed_ = false;          // the client closed (or half-closed) the connection

  bool draining_ = false;
  std::size_t drained_ = 0;
  std::optional<asio::steady_timer> drain_timer_;
  char drain_buffer_[16384];

  Socket socket_;
  std::shared_ptr<const std::size_t> body_limit_;  // the listener's
  std::size_t limit_ = 0;                          // the current request's
  RequestHandler handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

HttpListener::HttpListener(asio::io_context& io, std::size_t body_limit, RequestHandler handler)
    : io_(io),
      body_limit_(std::make_shared<std::size_t>(body_limit)),
      handler_(std::move(handler)),
      acceptor_(io) {}

HttpListener::~HttpListener() {
  Close();
}

bool HttpListener::Listen(const ListenAddress& address, std::string& error) {
  beast::error_code ec;
  asio::generic::stream_protocol::endpoint endpoint;
  if (address.is_unix) {
    ::unlink(address.path.c_str());
    endpoint = asio::local::stream_protocol::endpoint(address.path);
  } else {
    auto ip = asio::ip::make_address(address.host == "localhost" ? "127.0.0.1" : address.host, ec);
    if (ec) {
      error = "bad listen address \"" + address.host + "\": " + ec.message();
      return false;
    }
    endpoint = asio::ip::tcp::endpoint(ip, address.port);
  }
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec && !address.is_unix) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "listen on " +
            (address.is_unix ? address.path : address.host + ":" + std::to_string(address.port)) +
            ": " + ec.message();
    return false;
  }
  if (address.is_unix) {
    unix_path_ = address.path;
    ::chmod(unix_path_.c_str(), 0666);
  } else {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&storage), &length) ==
        0) {
      if (storage.ss_family == AF_INET) {
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
      } else if (storage.ss_family == AF_INET6) {
        port_ = ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
      }
    }
  }
  Accept();
  return true;
}

void HttpListener::Close() {
  beast::error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  unix_path_.clear();
}

void HttpListener::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (port_ != 0) {
        int one = 1;
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      std::make_shared<Session>(std::move(socket), body_limit_, handler_)->Read();
    } else {
      LogShim("accept: " + ec.message());
    }
    Accept();
  });
}

}  // namespace gantry::shim
