#include "config.h"

#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

using std::chrono::milliseconds;

TEST_CASE("ParseDuration accepts seconds, milliseconds and minutes", "[shim][config]") {
  struct Case {
    const char* text;
    std::optional<milliseconds> want;
  };
  const Case cases[] = {
      {"30s", milliseconds(30000)}, {"250ms", milliseconds(250)}, {"2m", milliseconds(120000)},
      {"1.5s", milliseconds(1500)}, {"5", milliseconds(5000)},    {" 1h ", milliseconds(3600000)},
      {"0", milliseconds(0)},       {"", std::nullopt},           {"-1s", std::nullopt},
      {"abc", std::nullopt},        {"5x", std::nullopt},         {"ms", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO("text: \"" << c.text << "\"");
    CHECK(ParseDuration(c.text) == c.want);
  }
}

TEST_CASE("ParseByteSize accepts plain bytes and binary suffixes", "[shim][config]") {
  CHECK(ParseByteSize("1048576") == std::size_t{1048576});
  CHECK(ParseByteSize("512k") == std::size_t{512 * 1024});
  CHECK(ParseByteSize("6M") == std::size_t{6 * 1024 * 1024});
  CHECK(ParseByteSize("1Gi") == std::size_t{1024 * 1024 * 1024});
  CHECK_FALSE(ParseByteSize("").has_value());
  CHECK_FALSE(ParseByteSize("6X").has_value());
  CHECK_FALSE(ParseByteSize("-1").has_value());
  CHECK_FALSE(ParseByteSize("99999999999999999999G").has_value());
}

TEST_CASE("ParseListenAddress tells unix paths from TCP addresses", "[shim][config]") {
  auto unix_socket = ParseListenAddress("unix:/run/gantry/shim.sock");
  REQUIRE(unix_socket);
  CHECK(unix_socket->is_unix);
  CHECK(unix_socket->path == "/run/gantry/shim.sock");

  auto bare_path = ParseListenAddress("/tmp/s.sock");
  REQUIRE(bare_path);
  CHECK(bare_path->is_unix);

  auto tcp = ParseListenAddress("tcp:127.0.0.1:8080");
  REQUIRE(tcp);
  CHECK_FALSE(tcp->is_unix);
  CHECK(tcp->host == "127.0.0.1");
  CHECK(tcp->port == 8080);

  auto port_only = ParseListenAddress(":9000");
  REQUIRE(port_only);
  CHECK(port_only->host == "0.0.0.0");
  CHECK(port_only->port == 9000);

  CHECK_FALSE(ParseListenAddress("tcp:host:0").has_value());
  CHECK_FALSE(ParseListenAddress("tcp:host:70000").has_value());
  CHECK_FALSE(ParseListenAddress("nonsense").has_value());
}

TEST_CASE("SplitCommandLine honours quotes and escapes", "[shim][config]") {
  using Words = std::vector<std::string>;
  CHECK(SplitCommandLine("cat") == Words{"cat"});
  CHECK(SplitCommandLine("  python3   -u  app.py ") == Words{"python3", "-u", "app.py"});
  CHECK(SplitCommandLine("sh -c 'echo hi there'") == Words{"sh", "-c", "echo hi there"});
  CHECK(SplitCommandLine(R"(echo "a \"b\" c" d\ e)") == Words{"echo", R"(a "b" c)", "d e"});
  CHECK(SplitCommandLine("echo ''") == Words{"echo", ""});
  CHECK_FALSE(SplitCommandLine("echo 'unterminated").has_value());
}

TEST_CASE("ParseConfig reads the environment and lets flags win", "[shim][config]") {
  std::map<std::string, std::string> env = {
      {"GANTRY_MODE", "runtime-api"}, {"GANTRY_COMMAND", "python3 /opt/bootstrap.py"},
      {"GANTRY_TIMEOUT", "5s"},       {"GANTRY_MAX_INFLIGHT", "8"},
      {"GANTRY_MAX_BODY", "1M"},      {"GANTRY_LISTEN", "/run/gantry/fn.sock"},
  };
  auto parsed = ParseConfig(env, {"--timeout", "2s", "--max-inflight=3"});
  REQUIRE(parsed.config);
  const ShimConfig& config = *parsed.config;
  CHECK(config.mode == Mode::kRuntimeApi);
  CHECK(config.command == std::vector<std::string>{"python3", "/opt/bootstrap.py"});
  CHECK(config.timeout == milliseconds(2000));
  CHECK(config.max_inflight == 3);
  CHECK(config.max_body == 1024 * 1024);
  CHECK(config.listen.path == "/run/gantry/fn.sock");
}

TEST_CASE("runtime-api runs as many handlers as calls in flight", "[shim][config]") {
  // The pool gives the replica's concurrency as GANTRY_MAX_INFLIGHT: that many handlers.
  auto pooled = ParseConfig({{"GANTRY_COMMAND", "node b.js"}, {"GANTRY_MAX_INFLIGHT", "4"}}, {});
  REQUIRE(pooled.config);
  CHECK(pooled.config->handlers == 4);
  // By hand, without a limit: one handler, as on Lambda.
  auto alone = ParseConfig({{"GANTRY_COMMAND", "node b.js"}}, {});
  REQUIRE(alone.config);
  CHECK(alone.config->handlers == 1);
  // Given explicitly, but never more than the calls that can be in flight.
  auto given =
      ParseConfig({{"GANTRY_COMMAND", "x"}, {"GANTRY_HANDLERS", "2"}}, {"--max-inflight", "8"});
  REQUIRE(given.config);
  CHECK(given.config->handlers == 2);
  auto capped = ParseConfig({{"GANTRY_COMMAND", "x"}}, {"--handlers", "9", "--max-inflight", "3"});
  REQUIRE(capped.config);
  CHECK(capped.config->handlers == 3);
  CHECK_FALSE(ParseConfig({{"GANTRY_COMMAND", "x"}, {"GANTRY_HANDLERS", "0"}}, {}).config);
}

TEST_CASE("The function name comes from GANTRY_FUNCTION_NAME, else AWS_LAMBDA_FUNCTION_NAME",
          "[shim][config]") {
  auto lambda = ParseConfig({{"GANTRY_COMMAND", "x"}, {"AWS_LAMBDA_FUNCTION_NAME", "resize"}}, {});
  REQUIRE(lambda.config);
  CHECK(lambda.config->function_name == "resize");
  auto both = ParseConfig({{"GANTRY_COMMAND", "x"},
                           {"AWS_LAMBDA_FUNCTION_NAME", "resize"},
                           {"GANTRY_FUNCTION_NAME", "thumb"}},
                          {});
  REQUIRE(both.config);
  CHECK(both.config->function_name == "thumb");
}

TEST_CASE("ParseConfig takes the command after -- and OpenFaaS's fprocess", "[shim][config]") {
  auto from_args = ParseConfig({}, {"--mode", "exec", "--", "sh", "-c", "cat"});
  REQUIRE(from_args.config);
  CHECK(from_args.config->command == std::vector<std::string>{"sh", "-c", "cat"});

  auto from_fprocess = ParseConfig({{"fprocess", "wc -c"}}, {});
  REQUIRE(from_fprocess.config);
  CHECK(from_fprocess.config->command == std::vector<std::string>{"wc", "-c"});

  auto gantry_wins = ParseConfig({{"fprocess", "wc -c"}, {"GANTRY_COMMAND", "cat"}}, {});
  REQUIRE(gantry_wins.config);
  CHECK(gantry_wins.config->command == std::vector<std::string>{"cat"});
}

TEST_CASE("ParseConfig names what is wrong", "[shim][config]") {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    const char* mentions;
  };
  const Case cases[] = {
      {{}, {}, "no function command"},
      {{{"GANTRY_MODE", "lambda"}}, {"--", "cat"}, "GANTRY_MODE"},
      {{}, {"--timeout", "soon", "--", "cat"}, "timeout"},
      {{}, {"--timeout", "0", "--", "cat"}, "timeout"},
      {{}, {"--max-inflight", "0", "--", "cat"}, "max-inflight"},
      {{}, {"--bogus", "1", "--", "cat"}, "--bogus"},
      {{}, {"--mode"}, "needs a value"},
      {{}, {"stray", "--", "cat"}, "stray"},
      {{}, {"--upstream", "/a/socket", "--", "cat"}, "upstream"},
      {{}, {"--listen", "/" + std::string(120, 'a'), "--", "cat"}, "107"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseConfig(c.env, c.args);
    INFO("expecting an error mentioning " << c.mentions);
    CHECK_FALSE(parsed.config.has_value());
    CHECK_THAT(parsed.error, Catch::Contains(c.mentions));
  }
}

TEST_CASE("Stem mode comes from GANTRY_STEM or --stem, for exec and runtime-api only",
          "[shim][config]") {
  auto from_env = ParseConfig(
      {{"GANTRY_STEM", "1"}, {"GANTRY_MODE", "runtime-api"}, {"GANTRY_COMMAND", "python3 b.py"}},
      {});
  REQUIRE(from_env.config);
  CHECK(from_env.config->stem);
  auto from_flag = ParseConfig({{"GANTRY_MODE", "runtime-api"}}, {"--stem", "--", "node", "b.js"});
  REQUIRE(from_flag.config);
  CHECK(from_flag.config->stem);
  CHECK(from_flag.config->command == std::vector<std::string>{"node", "b.js"});
  // An exec stem's command comes with its specialisation; runtime-api's is the bootstrap.
  auto exec = ParseConfig({{"GANTRY_STEM", "1"}}, {});
  REQUIRE(exec.config);
  CHECK(exec.config->stem);
  CHECK(exec.config->command.empty());
  CHECK_FALSE(ParseConfig({{"GANTRY_STEM", "1"}, {"GANTRY_MODE", "runtime-api"}}, {}).config);
  auto off = ParseConfig({{"GANTRY_STEM", "0"}, {"GANTRY_COMMAND", "cat"}}, {});
  REQUIRE(off.config);
  CHECK_FALSE(off.config->stem);
  CHECK_FALSE(ParseConfig({{"GANTRY_COMMAND", "cat"}}, {}).config->stem);

  auto http =
      ParseConfig({{"GANTRY_STEM", "1"}, {"GANTRY_MODE", "http"}, {"GANTRY_COMMAND", "x"}}, {});
  CHECK_FALSE(http.config);
  CHECK_THAT(http.error, Catch::Contains("http mode has no stem"));
  auto bad = ParseConfig({{"GANTRY_STEM", "maybe"}}, {});
  CHECK_FALSE(bad.config);
  CHECK_THAT(bad.error, Catch::Contains("GANTRY_STEM"));
  CHECK_THAT(std::string(kUsage), Catch::Contains("GANTRY_STEM"));
}

TEST_CASE("ParseConfig defaults", "[shim][config]") {
  auto parsed = ParseConfig({}, {"--", "cat"});
  REQUIRE(parsed.config);
  CHECK(parsed.config->mode == Mode::kExec);
  CHECK(parsed.config->listen.is_unix);
  CHECK(parsed.config->listen.path == "/run/gantry/shim.sock");
  CHECK(parsed.config->upstream_port == 8080);
  CHECK(parsed.config->max_inflight == 64);
}

}  // namespace
}  // namespace gantry::shim
