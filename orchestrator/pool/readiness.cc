#include "pool/readiness.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <thread>

#include "core/unix_socket.h"

namespace gantry::pool {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The status line and headers of an answer; more is not an answer a probe waits for. The
// read buffer is bounded by the same size, so a peer sending endless bytes costs nothing.
constexpr std::size_t kHeadBytes = std::size_t{16} * 1024;

// Connects to `endpoint`, sends `GET target HTTP/1.0` and reads the answer's head, all before
// `deadline` (basic_stream's timeout covers each step; the io_context runs on this thread).
// Returns the status, or 0 for no answer in time, a closed connection or anything that is
// not an HTTP response head.
template <class Protocol>
int Exchange(const typename Protocol::endpoint& endpoint, const char* target,
             Clock::time_point deadline) {
  net::io_context io;
  beast::basic_stream<Protocol> stream(io);
  http::request<http::empty_body> request(http::verb::get, target, 10);
  request.set(http::field::host, "localhost");
  request.set(http::field::user_agent, "gantryd");
  beast::flat_buffer buffer(kHeadBytes);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHeadBytes));
  // Only the head is read: a body's size (an image's own "/" may answer anything) must not
  // make the answer count as none, and its bytes are never stored.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  int status = 0;
  stream.expires_at(deadline);
  stream.async_connect(endpoint, [&](beast::error_code ec) {
    if (ec) return;
    http::async_write(stream, request, [&](beast::error_code write_ec, std::size_t) {
      if (write_ec) return;
      http::async_read_header(stream, buffer, parser, [&](beast::error_code read_ec, std::size_t) {
        if (!read_ec) status = static_cast<int>(parser.get().result_int());
      });
    });
  });
  io.run();
  return status;
}

}  // namespace

int ProbeOnce(const Endpoint& endpoint, const char* target, milliseconds limit) {
  Clock::time_point deadline = Clock::now() + limit;
  try {
    if (!endpoint.unix_socket.empty()) {
      // The socket directory is the function's to write: connect only to the socket found
      // there, never through a symlink it may have put in its place. `pinned` outlives the
      // connect, which goes through its /proc/self/fd path.
      auto pinned = core::PinnedSocket::Open(endpoint.unix_socket);
      if (!pinned) return 0;
      return Exchange<net::local::stream_protocol>(
          net::local::stream_protocol::endpoint(pinned->connect_path()), target, deadline);
    }
    beast::error_code ec;
    net::ip::address_v4 address = net::ip::make_address_v4(endpoint.host, ec);
    if (ec || endpoint.port <= 0 || endpoint.port > 65535) return 0;
    return Exchange<net::ip::tcp>(
        net::ip::tcp::endpoint(address, static_cast<unsigned short>(endpoint.port)), target,
        deadline);
  } catch (const std::exception&) {
    return 0;  // out of memory or descriptors: no answer, like a refused connection
  }
}

core::Status HttpReadinessProbe::WaitReady(const Endpoint& endpoint, milliseconds limit,
                                           const std::function<bool()>& give_up) {
  const bool shim = !endpoint.unix_socket.empty();
  Clock::time_point deadline = Clock::now() + limit;
  int last = 0;
  for (;;) {
    if (give_up && give_up()) return core::Error::Cancelled("readiness check abandoned");
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    last = ProbeOnce(endpoint, shim ? "/_/ready" : "/", std::min(left, milliseconds(2000)));
    if (shim ? last == 200 : last > 0) return core::Ok();
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::string where =
      shim ? endpoint.unix_socket : fmt::format("{}:{}", endpoint.host, endpoint.port);
  return core::Error::Timeout(
      last == 0 ? fmt::format("{} did not answer within {} ms", where, limit.count())
                : fmt::format("{} still answered {} to GET /_/ready after {} ms", where, last,
                              limit.count()));
}

}  // namespace gantry::pool
