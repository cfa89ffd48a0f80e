#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::gateway {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// Returns nullopt for a malformed escape ("%4", "%zz").
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

// Splits "a=1&b=x%20y&flag" into {a: "1", b: "x y", flag: ""}; the first value of a
// repeated key wins; malformed escapes are kept as they are.
std::map<std::string, std::string> ParseQuery(std::string_view query);

// Splits a request target into its path and query (without the '?').
struct SplitUrl {
  std::string_view path;
  std::string_view query;
};
inline SplitUrl SplitTarget(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace gantry::gateway
