#include "spec/names.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "spec/suggest.h"

namespace gantry::spec {
namespace {

TEST_CASE("DNS-1123 labels", "[spec][names]") {
  struct Case {
    std::string text;
    bool ok;
  };
  const Case cases[] = {
      {"echo", true},
      {"echo-2", true},
      {"a", true},
      {"0day", true},
      {std::string(63, 'a'), true},
      {"", false},
      {"Echo", false},
      {"my_func", false},
      {"-echo", false},
      {"echo-", false},
      {"echo.v2", false},
      {std::string(64, 'a'), false},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(!CheckDns1123Label(c.text).has_value() == c.ok);
  }
  CHECK(*CheckDns1123Label("Echo") == "must be lower case");
}

TEST_CASE("Env names, label keys and values", "[spec][names]") {
  CHECK_FALSE(CheckEnvName("GREETING").has_value());
  CHECK_FALSE(CheckEnvName("_x1").has_value());
  CHECK(CheckEnvName("1X").has_value());
  CHECK(CheckEnvName("A-B").has_value());
  CHECK_FALSE(CheckLabelKey("team").has_value());
  CHECK_FALSE(CheckLabelKey("app.kubernetes.io/name").has_value());
  CHECK(CheckLabelKey("/name").has_value());
  CHECK(CheckLabelKey("-team").has_value());
  CHECK_FALSE(CheckLabelValue("").has_value());
  CHECK(CheckLabelValue("has space").has_value());
}

TEST_CASE("Image references", "[spec][names]") {
  for (std::string ok : std::vector<std::string>{
           "my/echo:1", "echo", "localhost:5000/echo:latest", "python:3.12-slim",
           "registry.example.com/team/echo@sha256:" + std::string(64, 'a')}) {
    INFO(ok);
    CHECK_FALSE(CheckImageReference(ok).has_value());
  }
  for (std::string bad : {"", "My/Echo:1", "echo:", "echo@sha256:12", "a//b", "echo:bad tag"}) {
    INFO(bad);
    CHECK(CheckImageReference(bad).has_value());
  }
}

TEST_CASE("Time zone and header names", "[spec][names]") {
  for (std::string_view ok : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1",
                              "Etc/GMT-14", "America/Port-au-Prince"}) {
    INFO(ok);
    CHECK_FALSE(CheckTimezoneName(ok));
  }
  CHECK(CheckTimezoneName("").value() == "must not be empty");
  CHECK(CheckTimezoneName("Europe//Berlin").value() == "has an empty part between slashes");
  CHECK(CheckTimezoneName("../etc/passwd").value().find("must start with a letter") !=
        std::string::npos);
  CHECK(CheckTimezoneName("Europe/Ber lin").value() ==
        "' ' is not allowed (e.g. Europe/Berlin, UTC)");
  CHECK(CheckTimezoneName(std::string(65, 'A')).value() == "must be at most 64 characters");

  CHECK_FALSE(CheckHeaderName("Content-Type"));
  CHECK_FALSE(CheckHeaderName("X-Api_Key.1~"));
  CHECK(CheckHeaderName("").value() == "must not be empty");
  CHECK(CheckHeaderName("Bad Header").value() == "' ' is not allowed in a header name");
  CHECK(CheckHeaderName("a:b").value() == "':' is not allowed in a header name");
}

TEST_CASE("Suggest finds near misses only", "[spec][suggest]") {
  const std::string_view fields[] = {"handler", "command", "source", "idleTimeout", "min", "max"};
  struct Case {
    std::string word;
    std::string expected;  // empty: no suggestion
  };
  const Case cases[] = {{"hander", "handler"},
                        {"handlr", "handler"},
                        {"comand", "command"},
                        {"soruce", "source"},
                        {"idle_timeout", "idleTimeout"},
                        {"IdleTimeout", "idleTimeout"},
                        {"mx", "max"},
                        {"banana", ""},
                        {"minimum", ""}};
  for (const Case& c : cases) {
    INFO(c.word);
    auto got = Suggest(c.word, fields);
    CHECK(got.value_or("") == c.expected);
  }
  CHECK(EditDistance("abc", "acb") == 1);
  CHECK(EditDistance("kitten", "sitting") == 3);
}

}  // namespace
}  // namespace gantry::spec
