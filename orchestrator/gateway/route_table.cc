#include "gateway/route_table.h"

#include "gateway/url.h"

namespace gantry::gateway {
namespace {

// Splits "/a/b/c" into "a", "b", "c" ("/" gives no segment; "/a/" gives "a" and "").
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

RouteTable::RouteTable(std::vector<Route> routes) {
  routes_.reserve(routes.size());
  for (auto& r : routes) {
    auto segments = Compile(r.pattern);
    routes_.push_back({std::move(r), std::move(segments)});
  }
}

std::vector<RouteTable::Segment> RouteTable::Compile(std::string_view pattern) {
  std::vector<Segment> out;
  for (std::string_view s : SplitPath(pattern)) {
    if (s.size() > 5 && s.front() == '{' && s.substr(s.size() - 4) == "...}") {
      out.push_back({Segment::kRest, std::string(s.substr(1, s.size() - 5))});
    } else if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
      out.push_back({Segment::kParam, std::string(s.substr(1, s.size() - 2))});
    } else {
      out.push_back({Segment::kLiteral, std::string(s)});
    }
  }
  return out;
}

bool RouteTable::MatchPath(const std::vector<Segment>& segments, std::string_view path,
                           std::map<std::string, std::string>* params) {
  std::vector<std::string_view> parts = SplitPath(path);
  std::size_t i = 0;
  for (const Segment& seg : segments) {
    if (seg.kind == Segment::kRest) {
      // The rest of the path after the segments matched so far, without its leading '/'.
      std::string rest;
      for (std::size_t j = i; j < parts.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest.append(parts[j]);
      }
      auto decoded = PercentDecode(rest);
      if (!decoded) return false;
      if (params) (*params)[seg.text] = std::move(*decoded);
      return true;
    }
    if (i >= parts.size()) return false;
    if (seg.kind == Segment::kLiteral) {
      if (parts[i] != seg.text) return false;
    } else {
      if (parts[i].empty()) return false;
      auto decoded = PercentDecode(parts[i]);
      if (!decoded) return false;
      if (params) (*params)[seg.text] = std::move(*decoded);
    }
    ++i;
  }
  return i == parts.size();
}

RouteTable::Match RouteTable::Find(std::string_view method, std::string_view path) const {
  Match m;
  for (const Compiled& c : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPath(c.segments, path, &params)) continue;
    if (c.route.method == "*" || c.route.method == method) {
      m.kind = Match::kFound;
      m.route = &c.route;
      m.params = std::move(params);
      m.allow.clear();
      return m;
    }
    m.kind = Match::kMethodNotAllowed;
    if (m.allow.find(c.route.method) == std::string::npos) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += c.route.method;
    }
  }
  return m;
}

}  // namespace gantry::gateway
