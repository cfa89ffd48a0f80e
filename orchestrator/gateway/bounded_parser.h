#pragma once

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace gantry::gateway {

// What a client (or a replica) may send around a body. Beast's own limits cover the head
// (header_limit) and the body (body_limit) but not trailers or chunk extensions; and a field
// value over 65533 bytes makes basic_fields throw std::length_error from inside a read's
// completion handler, where no coroutine can catch it. BoundedParser checks these before
// Beast stores anything. The read buffer must also be bounded (max_size() no larger than
// `head_bytes`): trailers and a chunk's header line are parsed only once they are wholly in
// the buffer, so the buffer's bound is what keeps them from growing memory.
struct RequestLimits {
  std::size_t head_bytes = 64 * 1024;      // request line + headers; also the read buffer
  std::size_t field_bytes = 32 * 1024;     // one header or trailer field, name + value
  std::size_t trailer_bytes = 64 * 1024;   // every trailer field, names + values
  std::size_t extension_bytes = 4 * 1024;  // the extensions of one chunk
};

// An http::parser<isRequest, Body> that enforces RequestLimits: a field over field_bytes or a
// trailer section over trailer_bytes ends the parse with http::error::header_limit, chunk
// extensions over extension_bytes with http::error::bad_chunk_extension. It never throws for
// the sizes of what it parses. Like Beast's parser, it converts to another Body by move (the
// limits and what was counted come along). Not thread-safe.
template <bool isRequest, class Body>
class BoundedParser : public boost::beast::http::parser<isRequest, Body> {
  using Base = boost::beast::http::parser<isRequest, Body>;

 public:
  explicit BoundedParser(const RequestLimits& limits) : limits_(limits) {
    this->header_limit(static_cast<std::uint32_t>(limits.head_bytes));
  }

  // Continues `other` (whose header is done) with this Body.
  template <class OtherBody>
  explicit BoundedParser(BoundedParser<isRequest, OtherBody>&& other)
      : Base(static_cast<boost::beast::http::parser<isRequest, OtherBody>&&>(other)),
        limits_(other.limits()),
        trailer_bytes_(other.trailer_bytes()) {}

  const RequestLimits& limits() const { return limits_; }
  std::size_t trailer_bytes() const { return trailer_bytes_; }

 private:
  void on_field_impl(boost::beast::http::field name, std::string_view name_string,
                     std::string_view value, boost::beast::error_code& ec) override {
    const std::size_t size = name_string.size() + value.size();
    if (size > limits_.field_bytes) {
      ec = boost::beast::http::error::header_limit;
      return;
    }
    if (this->is_header_done()) {  // a trailer
      trailer_bytes_ += size;
      if (trailer_bytes_ > limits_.trailer_bytes) {
        ec = boost::beast::http::error::header_limit;
        return;
      }
    }
    this->get().insert(name, name_string, value);
  }

  // Beast's parser only hands extensions to an on_chunk_header callback, which the gateway
  // never sets: checking the size is all there is to do.
  void on_chunk_header_impl(std::uint64_t, std::string_view extensions,
                            boost::beast::error_code& ec) override {
    if (extensions.size() > limits_.extension_bytes)
      ec = boost::beast::http::error::bad_chunk_extension;
  }

  RequestLimits limits_;
  std::size_t trailer_bytes_ = 0;
};

template <class Body>
using RequestParser = BoundedParser<true, Body>;
template <class Body>
using ResponseParser = BoundedParser<false, Body>;

}  // namespace gantry::gateway
