#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::gateway {

inline constexpr std::string_view kInvokePrefix = "/function/";
inline constexpr std::string_view kDefaultNamespace = "default";

// What an invoke target names: "/function/echo.team-a/x/y?q=1" is function "echo" in
// namespace "team-a", called with path "/x/y?q=1".
struct InvokePath {
  std::string name;
  std::string ns;
  std::string path;  // '/' + the rest of the path, with the query string if any
};

// Parses a request target that starts with kInvokePrefix. The namespace defaults to
// kDefaultNamespace. Returns kInvalidArgument for an empty name or namespace ("/function/",
// "/function/.ns", "/function/echo."), or a name with a '%' escape.
core::Result<InvokePath> ParseInvokePath(std::string_view target);

}  // namespace gantry::gateway
