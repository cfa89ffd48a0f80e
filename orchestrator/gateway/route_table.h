#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/backend.h"

namespace gantry::gateway {

// The management routes, matched by method and path pattern. A pattern is a list of
// '/'-separated segments: a literal, "{x}" (exactly one non-empty segment, percent-decoded,
// as params["x"]) or, last only, "{x...}" (the rest of the path, possibly empty, as
// params["x"]). Routes are tried in the order given; the first whose pattern and method
// match wins. Immutable after construction, so thread-safe.
class RouteTable {
 public:
  explicit RouteTable(std::vector<Route> routes);

  struct Match {
    enum Kind { kFound, kNotFound, kMethodNotAllowed } kind = kNotFound;
    const Route* route = nullptr;               // kFound
    std::map<std::string, std::string> params;  // kFound
    std::string allow;                          // kMethodNotAllowed: "GET, PUT"
  };

  // kFound with the route and its params; kMethodNotAllowed when some route's pattern
  // matches `path` but none for `method` (a "*" route matches every method); kNotFound
  // otherwise. `path` has no query string.
  Match Find(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    enum Kind { kLiteral, kParam, kRest } kind;
    std::string text;  // the literal, or the parameter's name
  };
  struct Compiled {
    Route route;
    std::vector<Segment> segments;
  };
  static std::vector<Segment> Compile(std::string_view pattern);
  static bool MatchPath(const std::vector<Segment>& segments, std::string_view path,
                        std::map<std::string, std::string>* params);

  std::vector<Compiled> routes_;
};

}  // namespace gantry::gateway
