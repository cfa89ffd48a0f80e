#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::builder {

// The patterns of a .gantryignore or .dockerignore file, with Docker's meaning: each line a
// pattern relative to the source root ("/" separators, a leading "/" or "./" ignored); `*`
// matches within one path element, `?` one character, `**` any number of elements;
// "!pattern" re-includes; '#' starts a comment line. A pattern that matches a directory
// matches everything below it. The last matching pattern decides. Immutable after Parse;
// thread-safe to share.
class IgnoreRules {
 public:
  IgnoreRules() = default;

  // Parses the text of an ignore file; never fails (a pattern that can't match is inert).
  static IgnoreRules Parse(std::string_view text);

  // Appends another file's rules after these (they win on conflicts).
  void Append(const IgnoreRules& more);

  // True when `path` (relative, "/"-separated, no leading "./") is excluded.
  bool Excluded(std::string_view path) const;

  bool empty() const { return rules_.empty(); }
  // True when some "!" rule may re-include a path below an excluded directory, so excluded
  // directories must still be walked.
  bool HasExceptions() const;

 private:
  struct Rule {
    std::string pattern;
    bool negate = false;
  };
  std::vector<Rule> rules_;
};

// Matches `path` against a glob `pattern` as described above (whole string, "**" spans '/').
bool GlobMatch(std::string_view pattern, std::string_view path);

}  // namespace gantry::builder
