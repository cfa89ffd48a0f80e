#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::gateway {

inline constexpr std::string_view kInvokePrefix = "/function/";
inline constexpr std::string_view kAsyncInvokePrefix = "/async-function/";
inline constexpr std::string_view kDefaultNamespace = "default";

// What an invoke target names: "/function/echo.team-a/x/y?q=1" is function "echo" in
// namespace "team-a", called with path "/x/y?q=1".
struct InvokePath {
  std::string name;
  std::string ns;
  // '/' + the rest of the path, with the query string if any, both exactly as sent (not
  // decoded, not re-encoded): what the function is called with.
  std::string path;
};

// Parses a request target that starts with `prefix` (kInvokePrefix for sync calls,
// kAsyncInvokePrefix for async ones: the one parser for both). The namespace defaults to
// kDefaultNamespace. Returns kInvalidArgument for a target without `prefix`, an empty name
// or namespace ("/function/", "/function/.ns", "/function/echo."), a name with a '%'
// escape, and a path with a "." or ".." segment (also when escaped, "%2e%2E") or an escaped
// slash or backslash ("%2F", "%5C"): a path is passed on verbatim, and whoever reads it
// next (curl, a function's own router) might otherwise resolve it elsewhere.
core::Result<InvokePath> ParseInvokePath(std::string_view target,
                                         std::string_view prefix = kInvokePrefix);

}  // namespace gantry::gateway
