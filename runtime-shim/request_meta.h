#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::shim {

// What the shim tells a function about one HTTP request, independent of the HTTP library:
// the input of the CGI environment (exec mode) and of the Lambda event (runtime-api mode).
struct RequestMeta {
  std::string method;
  std::string path;   // without the query, still percent-encoded
  std::string query;  // raw, without the '?'
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
};

// Splits "/a/b?x=1" into path "/a/b" and query "x=1".
std::pair<std::string, std::string> SplitTarget(std::string_view target);

// Go's canonical header form, which OpenFaaS's variable names derive from:
// "x-custom-header" -> "X-Custom-Header".
std::string CanonicalHeaderName(std::string_view name);

// The CGI-style variables OpenFaaS's classic watchdog sets, so its functions run unchanged:
// Http_Method, Http_Path, Http_Query, Http_Host, Http_ContentLength and Http_<Header_Name>
// for every header (canonical name, '-' -> '_'; repeated headers joined with ", ").
// Returns "NAME=value" strings. Header values with NUL bytes are dropped.
std::vector<std::string> CgiEnvironment(const RequestMeta& meta, std::size_t content_length);

// "a%20b+c" -> "a b c" (form decoding); malformed escapes are kept as they are.
std::string PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace gantry::shim
