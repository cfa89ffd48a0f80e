// The body of POST /_/specialize (protocol14): what it may hold, what it changes in the
// shim's config, and the environment the function's processes get from it.
#include "specialization.h"

#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

using std::chrono::milliseconds;

TEST_CASE("ParseSpecialization reads every field of the protocol", "[shim][stem]") {
  std::string error;
  auto parsed = ParseSpecialization(
      R"({"env": {"GREETING": "hi", "_HANDLER": "handler.main"}, "command": ["cat", "-u"],
          "timeout": "2s", "maxInflight": 4, "maxBody": 1024, "functionName": "echo",
          "somethingNewer": true})",
      error);
  INFO(error);
  REQUIRE(parsed);
  CHECK(parsed->env ==
        std::map<std::string, std::string>{{"GREETING", "hi"}, {"_HANDLER", "handler.main"}});
  CHECK(parsed->command == std::vector<std::string>{"cat", "-u"});
  CHECK(parsed->timeout == milliseconds(2000));
  CHECK(parsed->max_inflight == std::size_t{4});
  CHECK(parsed->max_body == std::size_t{1024});
  CHECK(parsed->function_name == "echo");

  auto empty = ParseSpecialization("{}", error);
  REQUIRE(empty);
  CHECK(empty->env.empty());
  CHECK(empty->command.empty());
  CHECK_FALSE(empty->timeout);
  CHECK_FALSE(empty->max_inflight);
  CHECK_FALSE(empty->max_body);
  CHECK_FALSE(empty->function_name);
  auto sized = ParseSpecialization(R"({"maxBody": "6M"})", error);
  REQUIRE(sized);
  CHECK(sized->max_body == std::size_t{6} << 20);
}

TEST_CASE("ParseSpecialization names the field at fault", "[shim][stem]") {
  struct Case {
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {"", "not a JSON object"},
      {"{bad", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({"env": ["A=1"]})", "env"},
      {R"({"env": {"A": 1}})", "env.A"},
      {R"({"env": {"": "x"}})", "bad variable name"},
      {R"({"env": {"A=B": "x"}})", "bad variable name"},
      {R"({"env": {"A": "x\u0000y"}})", "env.A"},
      {R"({"command": "cat"})", "command"},
      {R"({"command": ["cat", 1]})", "command"},
      {R"({"timeout": "soon"})", "timeout"},
      {R"({"timeout": "0s"})", "timeout"},
      {R"({"timeout": 30})", "timeout"},
      {R"({"maxInflight": 0})", "maxInflight"},
      {R"({"maxInflight": -2})", "maxInflight"},
      {R"({"maxInflight": "4"})", "maxInflight"},
      {R"({"maxBody": -1})", "maxBody"},
      {R"({"maxBody": "big"})", "maxBody"},
      {R"({"functionName": 7})", "functionName"},
  };
  for (const auto& c : cases) {
    INFO("body: " << c.body);
    std::string error;
    CHECK_FALSE(ParseSpecialization(c.body, error));
    CHECK_THAT(error, Catch::Contains(c.error));
  }
}

TEST_CASE("ApplySpecialization sets the late settings it was given, and only those",
          "[shim][stem]") {
  ShimConfig config;
  config.command = {"python3", "/opt/gantry/bootstrap.py"};
  Specialization none;
  ApplySpecialization(none, config);
  CHECK(config.timeout == milliseconds(30000));
  CHECK(config.max_inflight == 64);
  CHECK(config.handlers == 1);
  CHECK(config.function_name == "function");
  CHECK(config.command == std::vector<std::string>{"python3", "/opt/gantry/bootstrap.py"});

  Specialization all;
  all.timeout = milliseconds(1500);
  all.max_inflight = 3;
  all.max_body = 100;
  all.function_name = "echo";
  all.command = {"cat"};
  ApplySpecialization(all, config);
  CHECK(config.timeout == milliseconds(1500));
  CHECK(config.max_inflight == 3);
  CHECK(config.handlers == 3);  // one handler per call in flight, as GANTRY_MAX_INFLIGHT
  CHECK(config.max_body == 100);
  CHECK(config.function_name == "echo");
  CHECK(config.command == std::vector<std::string>{"cat"});
}

TEST_CASE("OverlayEnvironment lays the function's env over the shim's", "[shim][stem]") {
  std::vector<std::string> base = {"PATH=/usr/bin", "GANTRY_STEM=1", "GREETING=stem", "EMPTY="};
  auto env = OverlayEnvironment(base, {{"GREETING", "hi"}, {"_HANDLER", "h.main"}, {"X", "a=b"}},
                                {"GANTRY_STEM"});
  CHECK(env == std::vector<std::string>{"PATH=/usr/bin", "EMPTY=", "GREETING=hi", "X=a=b",
                                        "_HANDLER=h.main"});
  // A name to drop goes even when the function's env sets it.
  CHECK(OverlayEnvironment({"A=1"}, {{"GANTRY_STEM", "1"}}, {"GANTRY_STEM"}) ==
        std::vector<std::string>{"A=1"});
}

}  // namespace
}  // namespace gantry::shim
