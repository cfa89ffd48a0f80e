// gantryd's flags: parsed by CLI11 as main does (AddFlags), then checked and converted
// (ResolveFlags).
#include "daemon/options.h"

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

namespace gantry::daemon {
namespace {

// The flags after parsing `args` (without the program name) and resolving them.
struct Parsed {
  Flags flags;
  core::Status resolved = core::Ok();
};
Parsed Parse(const std::string& args) {
  Parsed p;
  CLI::App app{"gantryd", "gantryd"};
  AddFlags(app, p.flags);
  app.parse(args, /*program_name_included=*/false);
  p.resolved = ResolveFlags(p.flags);
  return p;
}

TEST_CASE("gantryd flags: defaults", "[daemon]") {
  Parsed p = Parse("");
  REQUIRE(p.resolved.ok());
  CHECK(p.flags.listen == "127.0.0.1:8080");
  CHECK(p.flags.state_dir == "/var/lib/gantry");
  CHECK(p.flags.level == core::LogLevel::kInfo);
  CHECK(p.flags.bundle_limits.max_upload == std::uint64_t{50} << 20);
  CHECK(p.flags.bundle_limits.max_unpacked == std::uint64_t{250} << 20);
  CHECK(p.flags.gateway.max_api_body >= p.flags.bundle_limits.max_upload);
  CHECK(p.flags.gateway.header_timeout == std::chrono::seconds(10));
  CHECK(p.flags.extra_labels.empty());
  CHECK(p.flags.install_env.empty());
  CHECK(p.flags.async_workers == 2);
}

TEST_CASE("gantryd flags: values are converted", "[daemon]") {
  Parsed p = Parse(
      "--listen 0.0.0.0:9000 --log-level debug --max-upload 1Mi --max-unpacked 2Mi "
      "--header-timeout 500ms --label gantry.test=abc --label team=x "
      "--base-image python3=my/python:1 --pip-index-url http://127.0.0.1:1/simple "
      "--npm-registry http://127.0.0.1:2/ --async-workers 0 --socket-dir-size 0");
  REQUIRE(p.resolved.ok());
  CHECK(p.flags.listen == "0.0.0.0:9000");
  CHECK(p.flags.level == core::LogLevel::kDebug);
  CHECK(p.flags.bundle_limits.max_upload == 1 << 20);
  CHECK(p.flags.bundle_limits.max_unpacked == 2 << 20);
  CHECK(p.flags.gateway.header_timeout == std::chrono::milliseconds(500));
  CHECK(p.flags.extra_labels == docker::Labels{{"gantry.test", "abc"}, {"team", "x"}});
  CHECK(p.flags.base_image_by_runtime ==
        std::map<spec::Runtime, std::string>{{spec::Runtime::kPython3, "my/python:1"}});
  CHECK(p.flags.install_env ==
        std::map<std::string, std::string>{{"PIP_INDEX_URL", "http://127.0.0.1:1/simple"},
                                           {"npm_config_registry", "http://127.0.0.1:2/"}});
  CHECK(p.flags.async_workers == 0);
  CHECK(p.flags.socket_dir_size == 0);
}

TEST_CASE("gantryd flags: a bundle limit over the API body limit raises it", "[daemon]") {
  Parsed p = Parse("--max-upload 1Gi");
  REQUIRE(p.resolved.ok());
  CHECK(p.flags.gateway.max_api_body == std::uint64_t{1} << 30);
}

TEST_CASE("gantryd flags: bad values are kInvalidArgument naming the flag", "[daemon]") {
  for (auto [args, flag] :
       {std::pair{"--max-upload lots", "--max-upload"},
        std::pair{"--max-unpacked 0", "--max-unpacked"},
        std::pair{"--header-timeout 0s", "--header-timeout"},
        std::pair{"--header-timeout soon", "--header-timeout"},
        std::pair{"--log-level loud", "--log-level"},
        std::pair{"--base-image cobol=x", "--base-image"},
        std::pair{"--base-image python3", "--base-image"}, std::pair{"--label novalue", "--label"},
        std::pair{"--label =x", "--label"},
        std::pair{"--label gantry.instance=x", "gantry.instance"}}) {
    INFO(args);
    Parsed p = Parse(args);
    REQUIRE_FALSE(p.resolved.ok());
    CHECK(p.resolved.error().code() == core::ErrorCode::kInvalidArgument);
    CHECK_THAT(p.resolved.error().message(), Catch::Contains(flag));
  }
}

TEST_CASE("gantryd flags: CLI11 refuses what its checks forbid", "[daemon]") {
  CHECK_THROWS_AS(Parse("--socket-dir-size -1"), CLI::ValidationError);
  CHECK_THROWS_AS(Parse("--container-log-max-files 0"), CLI::ValidationError);
  CHECK_THROWS_AS(Parse("--no-such-flag"), CLI::ExtrasError);
}

TEST_CASE("gantryd flags: the log store's bounds", "[daemon]") {
  Parsed defaults = Parse("");
  REQUIRE(defaults.resolved.ok());
  CHECK(defaults.flags.log_store.max_bytes_per_function == std::size_t{4} << 20);
  CHECK(defaults.flags.log_store.max_age == std::chrono::hours(24));
  Parsed set = Parse("--log-max-bytes-per-function 512Ki --log-max-age 30m");
  REQUIRE(set.resolved.ok());
  CHECK(set.flags.log_store.max_bytes_per_function == 512 * 1024);
  CHECK(set.flags.log_store.max_age == std::chrono::minutes(30));
  for (const char* bad : {"--log-max-bytes-per-function 0", "--log-max-bytes-per-function lots",
                          "--log-max-age 1d", "--log-max-age 10ms"}) {
    INFO(bad);
    Parsed p = Parse(bad);
    REQUIRE_FALSE(p.resolved.ok());
    CHECK(p.resolved.error().code() == core::ErrorCode::kInvalidArgument);
    CHECK_THAT(p.resolved.error().message(), Catch::StartsWith("--log-max-"));
  }
}

}  // namespace
}  // namespace gantry::daemon
