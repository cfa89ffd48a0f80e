#include "builder/ignore_rules.h"

#include <catch2/catch.hpp>

namespace gantry::builder {
namespace {

TEST_CASE("glob patterns match as Docker's do", "[builder][ignore]") {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  const Case cases[] = {
      {"*.csv", "data.csv", true},
      {"*.csv", "dir/data.csv", false},  // '*' stays within one element
      {"**/*.csv", "dir/sub/data.csv", true},
      {"**/*.csv", "data.csv", true},  // "**/" also matches no directory
      {"dir/**", "dir/a/b", true},
      {"dir/**/x", "dir/x", true},
      {"dir/**/x", "dir/a/b/x", true},
      {"dir/**/x", "dir/a/b/y", false},
      {"?.txt", "a.txt", true},
      {"?.txt", "ab.txt", false},
      {"[ab].txt", "b.txt", true},
      {"[!ab].txt", "b.txt", false},
      {"[a-c]x", "cx", true},
      {"node_modules", "node_modules", true},
      {"node_modules", "node_modulesx", false},
      {"a*b", "aXYZb", true},
      {"a*b", "a/b", false},
      {"\\*", "*", true},
      {"", "", true},
  };
  for (const Case& c : cases) {
    INFO(c.pattern << " vs " << c.path);
    CHECK(GlobMatch(c.pattern, c.path) == c.match);
  }
}

TEST_CASE("ignore files exclude directories and re-include with !", "[builder][ignore]") {
  IgnoreRules rules = IgnoreRules::Parse(
      "# comment\n"
      "\n"
      "  *.log  \n"
      "/build/\n"
      "./secrets\n"
      "docs\n"
      "!docs/keep.md\n");
  CHECK(rules.Excluded("app.log"));
  CHECK_FALSE(rules.Excluded("dir/app.log"));
  CHECK(rules.Excluded("build"));
  CHECK(rules.Excluded("build/out/a.o"));  // below an excluded directory
  CHECK(rules.Excluded("secrets/key"));
  CHECK(rules.Excluded("docs/other.md"));
  CHECK_FALSE(rules.Excluded("docs/keep.md"));  // the last matching rule wins
  CHECK_FALSE(rules.Excluded("src/main.py"));
  CHECK(rules.HasExceptions());
  CHECK_FALSE(IgnoreRules::Parse("*.log\n").HasExceptions());
  CHECK(IgnoreRules::Parse("# only comments\n\n").empty());
}

TEST_CASE("later ignore files win over earlier ones", "[builder][ignore]") {
  IgnoreRules rules = IgnoreRules::Parse("*.md\n");
  rules.Append(IgnoreRules::Parse("!README.md\n"));
  CHECK(rules.Excluded("NOTES.md"));
  CHECK_FALSE(rules.Excluded("README.md"));
}

}  // namespace
}  // namespace gantry::builder
