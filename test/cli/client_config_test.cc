// Where the CLI finds gantryd and its token: flag > environment > config file > default, and
// the config file `gantry login` writes (YAML, 0600).
#include "cli/client_config.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "cli/cli_test_support.h"

namespace gantry::cli {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

ConfigSources Sources(std::map<std::string, std::string> env, std::string default_token_file) {
  ConfigSources s;
  s.env = [env = std::move(env)](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  s.default_token_file = std::move(default_token_file);
  return s;
}

TEST_CASE(
    "cli config: each value from the flag, else the environment, else the file, else the default",
    "[cli][config]") {
  TempDir dir;
  std::string config = (dir.path() / "config.yaml").string();
  REQUIRE(WriteConfigFile(config, {.server = "http://from-file:1", .token = "file-token"}));
  std::string default_token = dir.Write("default-token", "default-token\n");
  std::string flag_token_file = dir.Write("flag-token", "token-from-file-flag\n");

  std::map<std::string, std::string> env = {{"GANTRY_CONFIG", config},
                                            {"GANTRY_URL", "http://from-env:2/"},
                                            {"GANTRY_TOKEN", "env-token"}};
  SECTION("flags win") {
    auto c = ResolveConfig({.server = "http://from-flag:3//", .token = "flag-token"},
                           Sources(env, default_token));
    CHECK(c.server == "http://from-flag:3");
    CHECK(c.token == "flag-token");
  }
  SECTION("--token-file is a flag too") {
    auto c = ResolveConfig({.token_file = flag_token_file}, Sources(env, default_token));
    CHECK(c.token == "token-from-file-flag");
  }
  SECTION("then the environment") {
    auto c = ResolveConfig({}, Sources(env, default_token));
    CHECK(c.server == "http://from-env:2");
    CHECK(c.token == "env-token");
  }
  SECTION("then the config file") {
    auto c = ResolveConfig({}, Sources({{"GANTRY_CONFIG", config}}, default_token));
    CHECK(c.server == "http://from-file:1");
    CHECK(c.token == "file-token");
  }
  SECTION("then the defaults") {
    auto c = ResolveConfig({}, Sources({{"GANTRY_CONFIG", config + ".missing"}}, default_token));
    CHECK(c.server == "http://127.0.0.1:8080");
    CHECK(c.token == "default-token");
  }
}

TEST_CASE("cli config: the file's path from GANTRY_CONFIG, XDG_CONFIG_HOME or HOME",
          "[cli][config]") {
  CHECK(ConfigPath(Sources({{"GANTRY_CONFIG", "/c.yaml"}, {"XDG_CONFIG_HOME", "/x"}}, "")) ==
        "/c.yaml");
  CHECK(ConfigPath(Sources({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}}, "")) ==
        "/x/gantry/config.yaml");
  CHECK(ConfigPath(Sources({{"HOME", "/h"}}, "")) == "/h/.config/gantry/config.yaml");
}

TEST_CASE("cli config: the file round-trips any value, is YAML and is 0600", "[cli][config]") {
  TempDir dir;
  std::string path = (dir.path() / "deep/er/config.yaml").string();
  ClientConfig written{.server = "https://gantry.example:8443/base",
                       .token = "t0k: \"en\" # not a comment\\ é"};
  REQUIRE(WriteConfigFile(path, written));
  CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  std::ifstream in(path);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK_THAT(
      text,
      Catch::StartsWith(
          "# written by gantry login\nserver: \"https://gantry.example:8443/base\"\ntoken: \""));
  ClientConfig read = ReadConfigFile(path);
  CHECK(read.server == written.server);
  CHECK(read.token == written.token);

  // Written again over an existing file of another mode: still 0600.
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  REQUIRE(WriteConfigFile(path, {.server = "http://b:1", .token = "x"}));
  CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(ReadConfigFile(path).server == "http://b:1");
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("cli config: a file written by hand is read as YAML, a broken one gives nothing",
          "[cli][config]") {
  TempDir dir;
  std::string hand =
      dir.Write("hand.yaml", "# mine\nserver: http://h:9   # a comment\ntoken: 'abc'\n");
  CHECK(ReadConfigFile(hand).server == "http://h:9");
  CHECK(ReadConfigFile(hand).token == "abc");
  std::string broken = dir.Write("broken.yaml", "server: [unclosed\n");
  CHECK(ReadConfigFile(broken).server.empty());
  std::string list = dir.Write("list.yaml", "- server\n");
  CHECK(ReadConfigFile(list).server.empty());
  CHECK(ReadConfigFile((dir.path() / "missing.yaml").string()).token.empty());
}

TEST_CASE("cli config: an unwritable place is kUnavailable naming the path", "[cli][config]") {
  TempDir dir;
  std::string file = dir.Write("a-file", "x");
  auto s = WriteConfigFile(file + "/config.yaml", {.server = "s"});
  REQUIRE_FALSE(s);
  CHECK(s.error().code() == core::ErrorCode::kUnavailable);
  CHECK_THAT(s.error().message(), Catch::Contains(file + "/config.yaml"));
}

}  // namespace
}  // namespace gantry::cli
