// --timeout and --since are read by spec::ParseDuration: "1h30m" is 5400 s, not 60.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "cli/command_context.h"

namespace gantry::cli {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;
using testing::TempDir;

// A function whose replicas never become ready: apply --wait polls until its timeout.
std::string NeverReadyManifest(const TempDir& dir) {
  dir.Write("src/run.sh", "cat\n");
  return dir.Write("gantry.yaml",
                   "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: slow\n"
                   "spec:\n  runtime: exec\n  command: [\"sh\", \"run.sh\"]\n  source: ./src\n"
                   "  scale: {min: 1}\n");
}

TEST_CASE("cli apply: --timeout 1h30m waits 5400 s", "[cli][duration]") {
  TempDir dir;
  std::string manifest = NeverReadyManifest(dir);
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.method == "PUT")
      return http::Response{.status = 200, .body = R"({"result":"unchanged"})"};
    return http::Response{
        .status = 200,
        .body = json{{"status", {{"phase", "starting"}, {"readyReplicas", 0}}}}.dump()};
  };
  core::ManualClock clock;
  auto start = clock.Now();
  auto run = RunGantry(fake, {"apply", "-f", manifest, "--wait", "--timeout", "1h30m"}, {}, &clock);
  CHECK(run.exit_code == 1);
  CHECK(run.out == "function.gantry.dev/slow unchanged\n");
  CHECK_THAT(run.err, Catch::Contains(
                          "function.gantry.dev/slow: not ready after 1h30m: 0/1 replicas ready"));
  CHECK(clock.Now() - start == 5400s);
  // The offer, the wait route (its answer is no "Ready": polled then), then one poll every
  // 250 ms from 0 s to 5400 s.
  CHECK(fake.requests.size() == 1 + 1 + 5400 * 4 + 1);
  CHECK(fake.requests[1].method == "POST");
  CHECK(fake.Target(1) ==
        "/apis/gantry/v1/namespaces/default/functions/slow/wait?timeout=5400000ms");
}

TEST_CASE("cli apply: a --timeout that is no duration is a usage error", "[cli][duration]") {
  TempDir dir;
  std::string manifest = NeverReadyManifest(dir);
  FakeGantryd fake;
  for (const char* bad : {"90", "2x", "1h30", "5m-", ""}) {
    INFO(bad);
    auto run = RunGantry(fake, {"apply", "-f", manifest, "--wait", "--timeout", bad});
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::StartsWith("gantry apply: --timeout: invalid duration"));
  }
  CHECK(fake.requests.empty());
}

TEST_CASE("cli logs: --since 1h30m asks for lines newer than 5400 s ago", "[cli][duration]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) {
    return http::Response{.status = 200,
                          .body = R"({"timestamp":"2026-12-01T10:00:00Z","text":"one"})"
                                  "\n"
                                  R"({"timestamp":"2026-12-01T10:00:01Z","text":"two"})"
                                  "\nnot json\n"};
  };
  std::chrono::sys_seconds wall{std::chrono::seconds(1796123031)};  // 2026-12-01T11:03:51Z
  auto run = RunGantry(fake, {"logs", "echo", "-n", "team", "--since", "1h30m", "--tail", "5"}, {},
                       nullptr, wall);
  CHECK(run.exit_code == 0);
  CHECK(run.out == "one\ntwo\n");
  REQUIRE(fake.requests.size() == 1);
  CHECK(fake.Target(0) ==
        "/apis/gantry/v1/namespaces/team/functions/echo/logs?tail=5&since=2026-12-01T09:33:51Z");

  auto bad = RunGantry(fake, {"logs", "echo", "--since", "5"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::StartsWith("gantry logs: --since: invalid duration \"5\""));
  CHECK(fake.requests.size() == 1);
}

TEST_CASE("cli ParseDurationFlag: spec::ParseDuration's values and errors", "[cli][duration]") {
  CHECK(*ParseDurationFlag("apply", "--timeout", "1h30m") == 5400s);
  CHECK(*ParseDurationFlag("apply", "--timeout", "90s") == 90s);
  CHECK(*ParseDurationFlag("apply", "--timeout", "1.5s") == 1500ms);
  auto bad = ParseDurationFlag("logs", "--since", "1d");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(bad.error().message(),
             Catch::StartsWith("gantry logs: --since: invalid duration \"1d\""));
}

}  // namespace
}  // namespace gantry::cli
