#include "gateway/invoke_path.h"

#include <fmt/format.h>

#include "gateway/url.h"

namespace gantry::gateway {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// Why `path` (no query) can't be passed on as it is, or "" when it can.
std::string_view PathProblem(std::string_view path) {
  for (std::size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') continue;
    std::string_view escape = path.substr(i, 3);
    if (IEquals(escape, "%2f") || IEquals(escape, "%5c")) return "an escaped slash";
  }
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    auto decoded = PercentDecode(segment);
    std::string_view s = decoded ? std::string_view(*decoded) : segment;
    if (s == "." || s == "..") return "a '.' or '..' segment";
  }
  return {};
}

}  // namespace

core::Result<InvokePath> ParseInvokePath(std::string_view target, std::string_view prefix) {
  if (target.substr(0, prefix.size()) != prefix) {
    return core::Error::InvalidArgument("not an invoke path: " + std::string(target));
  }
  std::string_view rest = target.substr(prefix.size());
  std::size_t end = rest.find_first_of("/?");
  std::string_view first = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);

  InvokePath out;
  std::size_t dot = first.find('.');
  std::string_view name = first.substr(0, dot);
  std::string_view ns = dot == std::string_view::npos ? kDefaultNamespace : first.substr(dot + 1);
  // Not found, as OpenFaaS's gateway answers "/function/" and "/function/.default".
  if (name.empty()) return core::Error::NotFound("no function name in " + std::string(target));
  if (ns.empty()) return core::Error::InvalidArgument("empty namespace in " + std::string(target));
  if (first.find('%') != std::string_view::npos) {
    return core::Error::InvalidArgument("escaped characters in a function name: " +
                                        std::string(first));
  }
  if (auto problem = PathProblem(SplitTarget(rest).path); !problem.empty()) {
    return core::Error::InvalidArgument(
        fmt::format("{} in the path of {}: not passed on", problem, target));
  }
  out.name = name;
  out.ns = ns;
  if (rest.empty() || rest.front() == '?') out.path = "/";
  out.path.append(rest);
  return out;
}

}  // namespace gantry::gateway
