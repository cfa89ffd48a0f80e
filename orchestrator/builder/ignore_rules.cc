#include "builder/ignore_rules.h"

namespace gantry::builder {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Removes "./", duplicate and trailing slashes, and a leading "/".
std::string Clean(std::string_view p) {
  std::string out;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t slash = p.find('/', i);
    std::string_view part =
        p.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    i = slash == std::string_view::npos ? p.size() : slash + 1;
    if (part.empty() || part == ".") continue;
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  return out;
}

// Character class at pattern[pi] == '['; sets `matched` and returns the index after ']',
// or npos when the class is unterminated.
std::size_t MatchClass(std::string_view pattern, std::size_t pi, char c, bool* matched) {
  std::size_t i = pi + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (pattern[i] != ']' || first)) {
    first = false;
    char lo = pattern[i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) found = true;
    ++i;
  }
  if (i >= pattern.size()) return std::string_view::npos;
  *matched = found != negate;
  return i + 1;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  std::size_t pi = 0;
  std::size_t si = 0;
  // Backtracking points for the last '*' (within an element) and '**' (across elements).
  std::size_t star_p = std::string_view::npos, star_s = 0;
  std::size_t dstar_p = std::string_view::npos, dstar_s = 0;
  while (si < path.size() || pi < pattern.size()) {
    if (pi < pattern.size()) {
      char pc = pattern[pi];
      if (pc == '*' && pi + 1 < pattern.size() && pattern[pi + 1] == '*') {
        // "**/" also matches zero elements.
        std::size_t next = pi + 2;
        if (next < pattern.size() && pattern[next] == '/') ++next;
        dstar_p = next;
        dstar_s = si;
        star_p = std::string_view::npos;
        pi = next;
        continue;
      }
      if (pc == '*') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (si < path.size()) {
        if (pc == '?' && path[si] != '/') {
          ++pi;
          ++si;
          continue;
        }
        if (pc == '[' && path[si] != '/') {
          bool matched = false;
          std::size_t after = MatchClass(pattern, pi, path[si], &matched);
          if (after != std::string_view::npos && matched) {
            pi = after;
            ++si;
            continue;
          }
        } else if (pc == '\\' && pi + 1 < pattern.size() && pattern[pi + 1] == path[si]) {
          pi += 2;
          ++si;
          continue;
        } else if (pc == path[si] && pc != '?' && pc != '[') {
          ++pi;
          ++si;
          continue;
        }
      }
    }
    // Mismatch: let the last '*' eat one more character of this element, else let the
    // last '**' eat one more character of anything.
    if (star_p != std::string_view::npos && star_s < path.size() && path[star_s] != '/') {
      pi = star_p;
      si = ++star_s;
      continue;
    }
    if (dstar_p != std::string_view::npos && dstar_s < path.size()) {
      pi = dstar_p;
      si = ++dstar_s;
      star_p = std::string_view::npos;
      continue;
    }
    return false;
  }
  return true;
}

IgnoreRules IgnoreRules::Parse(std::string_view text) {
  IgnoreRules rules;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    Rule rule;
    if (line.front() == '!') {
      rule.negate = true;
      line = Trim(line.substr(1));
    }
    rule.pattern = Clean(line);
    if (rule.pattern.empty()) continue;
    rules.rules_.push_back(std::move(rule));
  }
  return rules;
}

void IgnoreRules::Append(const IgnoreRules& more) {
  rules_.insert(rules_.end(), more.rules_.begin(), more.rules_.end());
}

bool IgnoreRules::HasExceptions() const {
  for (const Rule& rule : rules_) {
    if (rule.negate) return true;
  }
  return false;
}

bool IgnoreRules::Excluded(std::string_view path) const {
  bool excluded = false;
  for (const Rule& rule : rules_) {
    // The rule matches the path itself or any directory above it.
    bool matched = false;
    for (std::size_t end = 0; end != std::string_view::npos && !matched;) {
      end = path.find('/', end == 0 ? 0 : end + 1);
      std::string_view prefix = path.substr(0, end);
      matched = GlobMatch(rule.pattern, prefix);
    }
    if (matched) excluded = !rule.negate;
  }
  return excluded;
}

}  // namespace gantry::builder
