// gantry get invocations / describe invocation against a fake gantryd: the request each
// sends and what it prints.
#include "cli/invocations_command.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace gantry::cli {
namespace {

using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;

http::Response Json(int status, const json& body) {
  return http::Response{.status = status, .body = body.dump()};
}

const json kList = {{"kind", "InvocationList"},
                    {"items",
                     {{{"callId", "c-2"},
                       {"status", 500},
                       {"trigger", "http"},
                       {"cold", true},
                       {"durationMs", 1250.0},
                       {"queueWaitMs", 0.5},
                       {"replica", "0123456789ab"},
                       {"requestBytes", 3},
                       {"responseBytes", 9},
                       {"error", ""},
                       {"startedAt", "2026-12-01T09:59:00.000Z"}},
                      {{"callId", "job-1"},
                       {"status", 0},
                       {"state", "queued"},
                       {"trigger", "async"},
                       {"cold", false},
                       {"durationMs", 0.0},
                       {"queueWaitMs", 0.0},
                       {"replica", ""},
                       {"requestBytes", 0},
                       {"responseBytes", 0},
                       {"error", "replica stopped"},
                       {"startedAt", "2026-11-30T10:00:00.000Z"}}}}};

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'796'119'200));

TEST_CASE("cli: get invocations asks for the function's records with the filters",
          "[cli][records]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) { return Json(200, kList); };
  CHECK(RunGantry(fake, {"get", "invocations", "echo", "-n", "team"}).exit_code == 0);
  CHECK(RunGantry(fake, {"get", "inv", "echo", "--failed", "--limit", "5", "--since", "10m"})
            .exit_code == 0);
  CHECK(RunGantry(fake, {"get", "invocations", "echo", "--since", "2026-12-01T00:00:00Z"})
            .exit_code == 0);
  REQUIRE(fake.requests.size() == 3);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/team/functions/echo/invocations");
  CHECK(fake.Target(1) ==
        "/apis/gantry/v1/namespaces/default/functions/echo/invocations?status=failed&limit=5&"
        "since=10m");
  CHECK(fake.Target(2) ==
        "/apis/gantry/v1/namespaces/default/functions/echo/invocations?since=2026-12-01T00:00:"
        "00Z");
}

TEST_CASE("cli: get invocations refuses what it can't ask", "[cli][records]") {
  FakeGantryd fake;
  auto unnamed = RunGantry(fake, {"get", "invocations"});
  CHECK(unnamed.exit_code == 2);
  CHECK_THAT(unnamed.err, Catch::Contains("name the function"));
  CHECK(RunGantry(fake, {"get", "invocations", "echo", "--since", "soon"}).exit_code == 1);
  CHECK(RunGantry(fake, {"get", "invocations", "echo", "--limit", "0"}).exit_code == 2);
  CHECK(fake.requests.empty());
}

TEST_CASE("cli: the invocation table, and wide", "[cli][records]") {
  CHECK(InvocationTable(kList["items"], false, kNow) ==
        "CALL ID                               STATUS  TRIGGER  COLD  DURATION  AGE\n"
        "c-2                                   500     http     yes   1.25s     60s\n"
        "job-1                                 queued  async    no    0us       24h\n");
  CHECK(
      InvocationTable(kList["items"], true, kNow) ==
      "CALL ID                               STATUS  TRIGGER  COLD  DURATION  AGE   REPLICA       "
      "WAIT     IN       OUT      ERROR\n"
      "c-2                                   500     http     yes   1.25s     60s   0123456789ab  "
      "500us    3        9        \n"
      "job-1                                 queued  async    no    0us       24h                 "
      "0us      0        0        replica stopped\n");
  FakeGantryd fake;
  fake.handler = [](const http::Request&) { return Json(200, kList); };
  auto json_out = RunGantry(fake, {"get", "invocations", "echo", "-o", "json"});
  CHECK(json::parse(json_out.out) == kList);
}

TEST_CASE("cli: describe invocation shows every field and an async result", "[cli][records]") {
  json record = {{"callId", "job-1"},
                 {"function", "echo"},
                 {"namespace", "default"},
                 {"generation", 2},
                 {"replica", "0123456789ab"},
                 {"trigger", "async"},
                 {"cold", false},
                 {"queueWaitMs", 2.0},
                 {"durationMs", 12.5},
                 {"status", 200},
                 {"requestBytes", 2},
                 {"responseBytes", 6},
                 {"error", ""},
                 {"startedAt", "2026-12-01T10:00:00.000Z"},
                 {"state", "succeeded"},
                 {"attempts", 1},
                 {"enqueuedAt", "2026-12-01T09:59:59.000Z"},
                 {"result",
                  {{"status", 200},
                   {"headers", {{"content-type", "text/plain"}}},
                   {"body", "hello\nworld"},
                   {"truncated", false}}}};
  FakeGantryd fake;
  fake.handler = [&record](const http::Request&) { return Json(200, record); };
  auto r = RunGantry(fake, {"describe", "invocation", "job-1", "-n", "team"});
  CHECK(r.exit_code == 0);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/team/invocations/job-1");
  CHECK(r.out ==
        "Call ID:        job-1\n"
        "Function:       echo\n"
        "Namespace:      default\n"
        "Generation:     2\n"
        "Replica:        0123456789ab\n"
        "Trigger:        async\n"
        "Cold start:     no\n"
        "Started:        2026-12-01T10:00:00.000Z\n"
        "Queue wait:     2ms\n"
        "Duration:       12ms\n"
        "Status:         200\n"
        "Request bytes:  2\n"
        "Response bytes: 6\n"
        "State:          succeeded\n"
        "Attempts:       1\n"
        "Enqueued:       2026-12-01T09:59:59.000Z\n"
        "Result:\n"
        "  Status:       200\n"
        "  Headers:\n"
        "    content-type: text/plain\n"
        "  Body:\n"
        "    hello\n"
        "    world\n");

  fake.handler = [](const http::Request&) {
    return Json(404, {{"error", "invocation x not found in namespace default"}});
  };
  auto missing = RunGantry(fake, {"describe", "invocation", "x"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "gantry describe: invocation x not found in namespace default\n");
}

}  // namespace
}  // namespace gantry::cli
