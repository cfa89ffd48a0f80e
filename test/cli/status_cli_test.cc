// What `get`, `describe` and `apply --wait` make of a function's status: phases, reasons,
// the Events table, ages, and the wait route's verdict.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "cli/output.h"

namespace gantry::cli {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;
using testing::TempDir;

http::Response Json(long status, const json& j) {
  return {.status = status, .body = j.dump()};
}

// A crash-looping python3 function as gantryd describes it (the ManualClock's wall is
// 2026-01-01T00:00:00Z).
json CrashLooping() {
  return {{"metadata",
           {{"name", "hello"},
            {"namespace", "default"},
            {"creationTimestamp", "2025-12-31T22:00:00Z"}}},
          {"spec", {{"runtime", "python3"}}},
          {"status",
           {{"phase", "CrashLoop"},
            {"reason", "handler import failed: ModuleNotFoundError: No module named 'requests'"},
            {"nextRetry", "2026-01-01T00:00:04.000Z"},
            {"readyReplicas", 0},
            {"startingReplicas", 0},
            {"currentReplicas", 0},
            {"desiredReplicas", 1},
            {"generation", 2},
            {"image", "gantry/fn-hello:2"},
            {"replicas", json::array()},
            {"events",
             {{{"time", "2025-12-31T22:00:00.000Z"},
               {"type", "Normal"},
               {"reason", "Built"},
               {"message", "built image gantry/fn-hello:2"}},
              {{"time", "2025-12-31T23:50:00.000Z"},
               {"lastTime", "2025-12-31T23:59:30.000Z"},
               {"count", 5},
               {"type", "Warning"},
               {"reason", "Died"},
               {"replica", "0123456789ab"},
               {"message", "before ready: handler import failed (exit code 1)"}}}}}}};
}

TEST_CASE("cli age: kubectl's short form", "[cli][status]") {
  CHECK(FormatAge(45s) == "45s");
  CHECK(FormatAge(200s) == "3m");
  CHECK(FormatAge(2h + 59min) == "2h");
  CHECK(FormatAge(24h * 4 + 5h) == "4d");
  CHECK(FormatAge(24h * 800) == "2y");
  CHECK(FormatAge(-5s) == "0s");
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'767'225'600));
  CHECK(AgeOf("2025-12-31T23:59:15Z", now) == "45s");
  CHECK(AgeOf("", now).empty());
  CHECK(AgeOf("yesterday", now).empty());
}

TEST_CASE("cli get: READY ready/desired, STATUS, REPLICAS, AGE, wide adds the reason",
          "[cli][status]") {
  FakeGantryd fake;
  json list = {{"items", {CrashLooping()}}};
  fake.handler = [&list](const http::Request&) { return Json(200, list); };
  core::ManualClock clock;
  CHECK(RunGantry(fake, {"get", "functions"}, {}, &clock).out ==
        "NAME                     READY   STATUS        REPLICAS  AGE\n"
        "hello                    0/1     CrashLoop     0         2h\n");
  auto wide = RunGantry(fake, {"get", "functions", "-o", "wide"}, {}, &clock).out;
  CHECK_THAT(wide, Catch::StartsWith("NAME                     READY   STATUS        REPLICAS  "
                                     "AGE    IMAGE                                    GENERATION "
                                     " REASON\n"));
  CHECK_THAT(wide, Catch::Contains("gantry/fn-hello:2                        2           handler "
                                   "import failed: ModuleNotFoundError: No module named "
                                   "'requests'\n"));
}

TEST_CASE("cli describe: Status, Reason, Next retry and the Events table", "[cli][status]") {
  FakeGantryd fake;
  json d = CrashLooping();
  fake.handler = [&d](const http::Request&) { return Json(200, d); };
  core::ManualClock clock;
  auto run = RunGantry(fake, {"describe", "fn", "hello"}, {}, &clock);
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("Status:       CrashLoop\n"
                                      "Reason:       handler import failed: ModuleNotFoundError: "
                                      "No module named 'requests'\n"
                                      "Next retry:   2026-01-01T00:00:04.000Z (in 4s)\n"));
  CHECK_THAT(
      run.out,
      Catch::EndsWith(
          "Events:\n"
          "  Type     Reason       Age              From                  Message\n"
          "  ----     ------       ----             ----                  -------\n"
          "  Normal   Built        2h               gantryd               built image "
          "gantry/fn-hello:2\n"
          "  Warning  Died         30s (x5 over 10m) replica/0123456789ab  before ready: handler "
          "import failed (exit code 1)\n"));
  d["status"]["events"] = json::array();
  CHECK_THAT(RunGantry(fake, {"describe", "fn", "hello"}, {}, &clock).out,
             Catch::EndsWith("Events:       <none>\n"));
}

std::string Manifest(TempDir& dir, int min) {
  dir.Write("src/handler.py", "import requests\n");
  return dir.Write(
      "gantry.yaml",
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: hello\n"
      "spec:\n  runtime: python3\n  handler: handler.main\n  source: ./src\n  scale: {min: " +
          std::to_string(min) + "}\n");
}

TEST_CASE("cli apply --wait: the wait route's failure exits 1 with the reason and last lines",
          "[cli][status]") {
  TempDir dir;
  std::string manifest = Manifest(dir, 0);
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.method == "PUT") return Json(200, {{"result", "configured"}});
    if (r.method == "POST") {
      return Json(503,
                  {{"error",
                    "handler import failed: ModuleNotFoundError: No module named "
                    "'requests'"},
                   {"phase", "CrashLoop"},
                   {"lastLines",
                    {"Traceback (most recent call last):", "  File \"/app/handler.py\", line 1",
                     "ModuleNotFoundError: No module named 'requests'"}}});
    }
    return Json(500, {{"error", "no GET expected"}});
  };
  core::ManualClock clock;
  auto run = RunGantry(fake, {"apply", "-f", manifest, "--wait", "--timeout", "90s"}, {}, &clock);
  CHECK(run.exit_code == 1);
  CHECK(run.err ==
        "gantry apply: function.gantry.dev/hello: CrashLoop: handler import failed: "
        "ModuleNotFoundError: No module named 'requests'\n"
        "  last log lines:\n"
        "    Traceback (most recent call last):\n"
        "      File \"/app/handler.py\", line 1\n"
        "    ModuleNotFoundError: No module named 'requests'\n");
  REQUIRE(fake.requests.size() == 2);
  CHECK(fake.Target(1) ==
        "/apis/gantry/v1/namespaces/default/functions/hello/wait?timeout=90000ms");
}

TEST_CASE("cli apply --wait: scale.min 0 is ready once the wait route saw a replica ready",
          "[cli][status]") {
  TempDir dir;
  std::string manifest = Manifest(dir, 0);
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.method == "PUT") return Json(200, {{"result", "created"}});
    if (r.method == "POST") return Json(200, {{"phase", "Ready"}, {"readyReplicas", 1}});
    return Json(200, {{"status", {{"phase", "Ready"}, {"readyReplicas", 1}}}});
  };
  auto run = RunGantry(fake, {"apply", "-f", manifest, "--wait"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "function.gantry.dev/hello unchanged\nfunction.gantry.dev/hello ready\n");
  REQUIRE(fake.requests.size() == 3);
  CHECK(fake.requests[1].method == "POST");
}

TEST_CASE("cli apply --wait: a CrashLoop seen while polling fails with its reason",
          "[cli][status]") {
  TempDir dir;
  std::string manifest = Manifest(dir, 2);
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.method == "PUT") return Json(200, {{"result", "created"}});
    if (r.method == "POST") return Json(200, {{"phase", "Ready"}, {"readyReplicas", 1}});
    return Json(200, CrashLooping());
  };
  auto run = RunGantry(fake, {"apply", "-f", manifest, "--wait"});
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::StartsWith("gantry apply: function.gantry.dev/hello: CrashLoop: "
                                        "handler import failed"));
}

}  // namespace
}  // namespace gantry::cli
