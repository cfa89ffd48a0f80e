#include "manifest/yaml_tree.h"

#include <catch2/catch.hpp>
#include <string>

namespace gantry::manifest {
namespace {

const YamlNode& Value(const YamlNode& map, std::string_view key) {
  for (const auto& e : map.entries) {
    if (e.key->value == key) return *e.value;
  }
  FAIL("no key " << key);
  throw 0;
}

TEST_CASE("Positions are 1-based lines and columns", "[manifest][yaml]") {
  YamlParse p = ParseYaml("a: 1\nb:\n  c: \"x\"\n", {});
  REQUIRE(p.errors.empty());
  REQUIRE(p.documents.size() == 1);
  const YamlNode& root = *p.documents[0].root;
  CHECK(Value(root, "a").position == Position{1, 4});
  CHECK(Value(root, "a").plain);
  const YamlNode& c = Value(Value(root, "b"), "c");
  CHECK(c.position == Position{3, 6});
  CHECK(c.value == "x");
  CHECK_FALSE(c.plain);
}

TEST_CASE("Aliases share the anchored node and merge keys fill in missing keys",
          "[manifest][yaml]") {
  YamlParse p = ParseYaml(
      "base: &b {x: 1, y: 2}\n"
      "other: &o {z: 3}\n"
      "one:\n  <<: *b\n  y: 20\n"
      "two:\n  <<: [*o, *b]\n"
      "alias: *b\n",
      {});
  REQUIRE(p.errors.empty());
  const YamlNode& root = *p.documents[0].root;
  const YamlNode& one = Value(root, "one");
  REQUIRE(one.entries.size() == 2);
  CHECK(Value(one, "y").value == "20");
  CHECK(Value(one, "x").value == "1");
  CHECK(Value(one, "x").position == Position{1, 14});  // where it was written
  const YamlNode& two = Value(root, "two");
  CHECK(two.entries.size() == 3);
  CHECK(Value(two, "z").value == "3");
  CHECK(Value(root, "alias").entries.size() == 2);
}

TEST_CASE("Merging something that is not a mapping is an error", "[manifest][yaml]") {
  YamlParse p = ParseYaml("a:\n  <<: 3\n  b: 1\n", {});
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].position == Position{2, 7});
  CHECK(p.errors[0].message ==
        "merge key \"<<\" needs a mapping or a list of mappings, got a string");
}

TEST_CASE("Several documents, a syntax error keeps the ones before it", "[manifest][yaml]") {
  YamlParse p = ParseYaml("a: 1\n---\nb: 2\n---\nc: [1, 2\n", {});
  CHECK(p.documents.size() == 2);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].message == "yaml: end of sequence flow not found");
  CHECK(p.errors[0].position.line == 6);
}

TEST_CASE("Hostile input is refused with an error, not a crash", "[manifest][yaml]") {
  YamlLimits limits;
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    laughs += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
              prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  std::string deep_block;
  for (int i = 0; i < 200; ++i)
    deep_block += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  const Case cases[] = {
      {"deep flow", std::string(100'000, '[') + std::string(100'000, ']'), "nested too deeply"},
      {"deep block", deep_block, "nested too deeply"},
      {"deep map", std::string(50'000, '{'), "nested too deeply"},
      {"billion laughs", laughs, "document too large"},
      {"huge", std::string(limits.max_bytes + 1, 'a'), "manifests are limited to"},
      {"not utf-8", "a: \xff\xfe\n", "not valid UTF-8"},
      {"control character",
       "a: b\x07"
       "c\n",
       "character U+0007 is not allowed in YAML"},
      {"NUL byte", std::string("a: b\0c\n", 7), "character U+0000 is not allowed in YAML"},
      {"NUL escape", "a: \"b\\0c\"\n", "string contains a NUL character"},
      {"alias in itself", "&a [*a]\n", "alias refers to a node that contains it"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    YamlParse p = ParseYaml(c.text, limits);
    REQUIRE_FALSE(p.errors.empty());
    CHECK_THAT(p.errors.back().message, Catch::Contains(c.message));
  }
}

}  // namespace
}  // namespace gantry::manifest
