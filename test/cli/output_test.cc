// -o yaml, tables and times: what every verb prints.
#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

namespace gantry::cli {
namespace {

using nlohmann::json;

// YAML as JSON, the way a YAML 1.2 reader types plain scalars; quoted ones are strings.
json FromYaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json j = json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = FromYaml(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      json j = json::array();
      for (const auto& v : n) j.push_back(FromYaml(v));
      return j;
    }
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      std::string s = n.as<std::string>();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      json number = json::parse(s, nullptr, false);
      if (number.is_number()) return number;
      return s;
    }
    default:
      return "undefined";
  }
}

TEST_CASE("cli ToYaml: emitted YAML reads back to the same JSON", "[cli][output]") {
  json j = json::parse(R"({
    "apiVersion": "gantry.dev/v1",
    "kind": "FunctionList",
    "items": [
      {"metadata": {"name": "echo", "namespace": "default"},
       "spec": {"command": ["sh", "-c", "echo: hi # there"], "env": {}, "args": [],
                "timeout": "30s", "memory": "128Mi", "concurrency": 4, "ratio": 0.25,
                "big": 12345678901234, "negative": -3, "enabled": true, "image": null},
       "status": {"phase": "ready", "lastError": ""}}
    ],
    "tricky": ["true", "false", "null", "~", "yes", "No", "on", "OFF", "y", "123", "1.5", "0x1f",
               "1e3", "-x", ".inf", " lead", "trail ", "a: b", "#c", "[x]", "{y}", "*z", "&w",
               "!t", "|", ">", "%p", "@q", "`r", "'s'", "\"u\"", "multi\nline", "tab\there",
               "é ü", "", "-", "?", ":"],
    "key: with colon": 1, "123": "numeric key", "": "empty key", "nested": [[1, [2]], {"a": []}]
  })");
  std::string yaml = ToYaml(j);
  INFO(yaml);
  CHECK(yaml.back() == '\n');
  CHECK(FromYaml(YAML::Load(yaml)) == j);
}

TEST_CASE("cli ToYaml: block style, plain words unquoted", "[cli][output]") {
  json j = {{"apiVersion", "gantry.dev/v1"},
            {"kind", "Function"},
            {"items", json::array({json{{"name", "a"}}, json{{"name", "b"}}})},
            {"empty", json::object()},
            {"none", json::array()},
            {"count", 2},
            {"flag", false},
            {"word", "true"}};
  CHECK(ToYaml(j) ==
        "apiVersion: gantry.dev/v1\n"
        "count: 2\n"
        "empty: {}\n"
        "flag: false\n"
        "items:\n"
        "  - name: a\n"
        "  - name: b\n"
        "kind: Function\n"
        "none: []\n"
        "word: \"true\"\n");
  // YAML 1.1 readers (PyYAML) take these for booleans: quoted.
  CHECK(ToYaml(json::array({"yes", "On", "n", "NULL"})) ==
        "- \"yes\"\n- \"On\"\n- \"n\"\n- \"NULL\"\n");
  CHECK(ToYaml("plain") == "plain\n");
  CHECK(ToYaml(nullptr) == "null\n");
}

TEST_CASE("cli PrintStructured: json and yaml only", "[cli][output]") {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&data, &size);
  CHECK(PrintStructured(out, json{{"a", 1}}, "json"));
  CHECK(PrintStructured(out, json{{"a", 1}}, "yaml"));
  CHECK_FALSE(PrintStructured(out, json{{"a", 1}}, "wide"));
  CHECK_FALSE(PrintStructured(out, json{{"a", 1}}, ""));
  std::fclose(out);
  CHECK(std::string(data, size) == "{\n  \"a\": 1\n}\na: 1\n");
  std::free(data);
}

TEST_CASE("cli Table: fixed-width columns, the last unpadded, long cells push along",
          "[cli][output]") {
  Table t({{"NAME", 6}, {"READY", 5}, {"RUNTIME", 0}});
  CHECK(t.Header() == "NAME   READY RUNTIME\n");
  CHECK(t.Row({"echo", "1/1", "python3"}) == "echo   1/1   python3\n");
  CHECK(t.Row({"a-long-name", "0/1", "exec"}) == "a-long-name 0/1   exec\n");
  CHECK(t.Row({"short"}) == "short        \n");
  Table indented({{"ID", 4}, {"STATE", 0}}, "  ");
  CHECK(indented.Row({"r1", "ready"}) == "  r1   ready\n");
  Table padded({{"NAME", 4}, {"UPDATED", 8}});
  CHECK(padded.Row({"s", "now"}) == "s    now     \n");
}

}  // namespace
TEST_CASE("cli output: ages as kubectl writes them", "[cli][output]") {
  using std::chrono::seconds;
  CHECK(HumanAge(seconds(-5)) == "0s");
  CHECK(HumanAge(seconds(45)) == "45s");
  CHECK(HumanAge(seconds(119)) == "119s");
  CHECK(HumanAge(seconds(200)) == "3m20s");
  CHECK(HumanAge(seconds(300)) == "5m");
  CHECK(HumanAge(seconds(42 * 60 + 5)) == "42m");
  CHECK(HumanAge(seconds(5 * 3600 + 600)) == "5h10m");
  CHECK(HumanAge(seconds(20 * 3600 + 59)) == "20h");
  CHECK(HumanAge(seconds(3 * 86400 + 4 * 3600)) == "3d4h");
  CHECK(HumanAge(seconds(9 * 86400)) == "9d");
  CHECK(HumanAge(seconds((2 * 365 + 60) * 86400LL)) == "2y60d");
  std::chrono::sys_seconds now{seconds(1796123031)};  // 2026-12-01T11:03:51Z
  CHECK(AgeSince("2026-12-01T11:03:00Z", now) == "51s");
  CHECK(AgeSince("2026-12-01T10:03:51.250Z", now) == "60m");
  CHECK(AgeSince("yesterday", now) == "<unknown>");
}

}  // namespace gantry::cli
