#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

namespace gantry::gateway {

// The client side of one connection in memory, for Gateway::ServeInMemory: reads give
// `input` and then end-of-stream, writes are collected for output(). It has the members of
// beast::tcp_stream that a session uses; the timeouts do nothing (nothing here can stall).
// Its handlers run on the io_context given; not thread-safe.
class MemoryStream {
 public:
  using executor_type = boost::beast::test::stream::executor_type;

  MemoryStream(boost::asio::io_context& io, std::string_view input) : in_(io), out_(io) {
    in_.connect(out_);
    in_.append(input);
    in_.close_remote();
  }

  executor_type get_executor() noexcept { return in_.get_executor(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return in_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return in_.async_write_some(buffers, std::forward<Token>(token));
  }

  template <class Duration>
  void expires_after(Duration) {}
  void expires_never() {}
  void cancel() {}
  void shutdown_send() { in_.close(); }

  // Everything written so far.
  std::string output() const { return std::string(out_.str()); }

 private:
  boost::beast::test::stream in_;   // the gateway's end
  boost::beast::test::stream out_;  // the client's end: what the gateway wrote lands here
};

}  // namespace gantry::gateway
