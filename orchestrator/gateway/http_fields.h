#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gateway {

// ASCII case-insensitive equality (header names, tokens, the auth scheme).
inline bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// True when the request asks for "100 Continue" before it sends its body.
inline bool ExpectsContinue(const boost::beast::http::request_header<>& h) {
  auto it = h.find(boost::beast::http::field::expect);
  return it != h.end() && IEquals(it->value(), "100-continue");
}

// Removes the hop-by-hop headers (RFC 9110 7.6.1), and those the Connection header names,
// keeping the message framing (Content-Length, Transfer-Encoding), which the serializer
// reproduces for the next hop. Expect goes too: the gateway answers it (100 Continue), not
// the replica.
template <bool isRequest>
void RemoveHopByHop(boost::beast::http::header<isRequest>& h) {
  using boost::beast::http::field;
  std::vector<std::string> named;
  for (auto token : boost::beast::http::token_list(h[field::connection])) {
    named.emplace_back(token);
  }
  for (const auto& n : named) {
    if (!IEquals(n, "transfer-encoding") && !IEquals(n, "content-length")) h.erase(n);
  }
  h.erase(field::connection);
  h.erase(field::keep_alive);
  h.erase(field::proxy_authenticate);
  h.erase(field::proxy_authorization);
  h.erase(field::proxy_connection);
  h.erase(field::te);
  h.erase(field::trailer);
  h.erase(field::upgrade);
  h.erase(field::expect);
}

}  // namespace gantry::gateway
