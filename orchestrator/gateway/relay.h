#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <utility>

namespace gantry::gateway {

// How a relay ended: the first read error (from `in`) or write error (to `out`), if any.
struct RelayResult {
  boost::beast::error_code read_ec;
  boost::beast::error_code write_ec;
  std::size_t bytes = 0;  // body bytes read from `in` (for records)
  bool ok() const { return !read_ec && !write_ec; }
};

// Relays one message body from `in` (whose header `p` has read) to `out` (whose serializer
// `sr` writes p's message), through `scratch` (`size` bytes) a buffer at a time, so large
// bodies are never held whole. Writes the header first if `sr` has not yet.
template <bool isRequest, class In, class Out>
boost::asio::awaitable<RelayResult> RelayBody(
    In& in, boost::beast::flat_buffer& in_buffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& p, Out& out,
    boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>& sr, char* scratch,
    std::size_t size) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  RelayResult r;
  do {
    auto& body = p.get().body();
    if (!p.is_done()) {
      body.data = scratch;
      body.size = size;
      co_await http::async_read_some(in, in_buffer, p, redirect_error(use_awaitable, r.read_ec));
      if (r.read_ec == http::error::need_buffer) r.read_ec = {};
      if (r.read_ec) co_return r;
      body.size = size - body.size;
      r.bytes += body.size;
      // No bytes yet (only a chunk header came): a null buffer, because an empty one would
      // go out as a zero-length chunk, which ends a chunked body.
      body.data = body.size > 0 ? scratch : nullptr;
      body.more = !p.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    co_await http::async_write(out, sr, redirect_error(use_awaitable, r.write_ec));
    if (r.write_ec == http::error::need_buffer) r.write_ec = {};
    if (r.write_ec) co_return r;
  } while (!p.is_done() || !sr.is_done());
  co_return r;
}

}  // namespace gantry::gateway
