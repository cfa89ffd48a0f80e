#include <fmt/format.h>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>

#include "core/log.h"
#include "gateway/error_mapping.h"
#include "gateway/invoke_path.h"
#include "gateway/server.h"

namespace gantry::gateway {
namespace {

void ShutdownSend(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}
void ShutdownSend(MemoryStream& stream) {
  stream.shutdown_send();
}

// A lingering close: after the answer and our FIN, what the caller still sends is read and
// dropped until it closes too, for at most kLingerTime. Closing with unread bytes would
// send a reset, and a caller still uploading (a body answered 413 before it was read)
// could lose the answer to it.
constexpr auto kLingerTime = std::chrono::seconds(1);
net::awaitable<void> Linger(beast::tcp_stream& stream) {
  error_code ec;
  char sink[16 * 1024];
  stream.expires_after(kLingerTime);
  while (!ec) {
    co_await stream.async_read_some(net::buffer(sink), Await(ec));
  }
}
net::awaitable<void> Linger(MemoryStream&) {
  co_return;
}

}  // namespace

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
  co_await Linger(c.stream);
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

template net::awaitable<void> Gateway::Server::Session(Connection<beast::tcp_stream>&);
template net::awaitable<void> Gateway::Server::Session(Connection<MemoryStream>&);
template net::awaitable<bool> Gateway::Server::BadRequest(Connection<beast::tcp_stream>&,
                                                          const error_code&, unsigned);
template net::awaitable<bool> Gateway::Server::BadRequest(Connection<MemoryStream>&,
                                                          const error_code&, unsigned);
template net::awaitable<bool> Gateway::Server::Write(Connection<beast::tcp_stream>&, Response&);
template net::awaitable<bool> Gateway::Server::Write(Connection<MemoryStream>&, Response&);
template net::awaitable<bool> Gateway::Server::WriteContinue(Connection<beast::tcp_stream>&);
template net::awaitable<bool> Gateway::Server::WriteContinue(Connection<MemoryStream>&);

}  // namespace gantry::gateway
