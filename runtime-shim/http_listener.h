#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "config.h"

namespace gantry::shim {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// A response written to the client piece by piece (http mode relays a large or unbounded
// body this way): raw bytes in order, then End. Not thread-safe.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues `bytes` for the client; `done(ok)` runs once they are written (ok is false when
  // the client is gone).
  virtual void Write(std::string bytes, std::function<void(bool ok)> done) = 0;
  // The response is complete (`ok`: the connection may serve the next request) or broken
  // (the connection is closed, so the client sees a truncated response, never a hang).
  virtual void End(bool ok) = 0;
};

// The client's side of the connection a request came on, as seen while it is answered.
// The listener keeps reading the socket while a request is handled, so a client that closes
// (or half-closes: shutdown of its sending side counts the same, as in nginx) is noticed at
// once, not when the answer is written. Not thread-safe (the io thread).
class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // `fn` runs once, on the io thread, if the client closes its connection before the
  // answer to this request is completely written (a whole response handed to the socket,
  // or a stream's End); never after that. Replaces an earlier `fn`.
  virtual void OnHangUp(std::function<void()> fn) = 0;
  // True if the client has already closed its side, asking the socket now (for a decision
  // that can't wait for the io loop to deliver the close, e.g. admission at the limit).
  virtual bool HungUp() = 0;
};

// Answers one request, exactly once: either a whole response, or Stream() and then the
// stream's bytes. Dropping it unanswered closes the connection. Copyable; not thread-safe
// (use it on the io thread).
class Responder {
 public:
  using SendFn = std::function<void(HttpResponse)>;
  using StreamFn = std::function<std::shared_ptr<ResponseStream>()>;

  Responder() = default;
  Responder(SendFn send, StreamFn stream = nullptr,  // NOLINT
            std::shared_ptr<ClientConnection> client = nullptr)
      : send_(std::move(send)), stream_(std::move(stream)), client_(std::move(client)) {}

  void operator()(HttpResponse response) const { send_(std::move(response)); }
  // The raw connection, for a response whose head the caller writes itself; null when this
  // responder can't stream.
  std::shared_ptr<ResponseStream> Stream() const { return stream_ ? stream_() : nullptr; }
  // The client's connection (see ClientConnection); null when this responder has none.
  ClientConnection* client() const { return client_.get(); }
  // The request asked to keep the connection, and its HTTP version (11 = 1.1).
  bool keep_alive = true;
  unsigned version = 11;

 private:
  SendFn send_;
  StreamFn stream_;
  std::shared_ptr<ClientConnection> client_;
};
using RequestHandler = std::function<void(HttpRequest&&, Responder)>;

// An HTTP/1.1 server on a unix socket or TCP port: accepts connections, reads requests
// one at a time per connection (keep-alive), hands each to the handler and writes its
// response. While a request is being answered the connection is still read, to notice the
// client closing it (Responder::client()); bytes that arrive meanwhile (a pipelined next
// request) are kept for the next read, up to 64 KiB before reading pauses. Bodies over
// `body_limit` get a 413 and malformed requests a 400, both closing the connection. Not
// thread-safe: everything runs on one io_context.
class HttpListener {
 public:
  HttpListener(boost::asio::io_context& io, std::size_t body_limit, RequestHandler handler);
  ~HttpListener();

  // Binds and starts accepting. A unix socket path left over from an earlier run is
  // replaced, and the socket is made connectable by any user (the gateway runs as
  // another uid). Returns false with `error` set when it can't listen.
  bool Listen(const ListenAddress& address, std::string& error);
  // Bodies of requests read from now on (on every connection) are limited to `bytes`.
  void set_body_limit(std::size_t bytes) { *body_limit_ = bytes; }
  // The bound TCP port (for "127.0.0.1:0").
  unsigned short port() const { return port_; }
  // Stops accepting and removes the unix socket; open connections finish their request.
  void Close();

 private:
  void Accept();

  boost::asio::io_context& io_;
  std::shared_ptr<std::size_t> body_limit_;  // shared with the connections
  RequestHandler handler_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  std::string unix_path_;
  unsigned short port_ = 0;
};

// A plain-text response with the given status (Connection: keep-alive as the request asked).
HttpResponse TextResponse(unsigned status, std::string body, unsigned version = 11);
// The same with a JSON body (application/json).
HttpResponse JsonResponse(unsigned status, std::string body, unsigned version = 11);

}  // namespace gantry::shim
