// gantry usage, get triggers|topics|deadletters, publish, replay and map against a fake
// gantryd: the request each sends, what it prints, and its exit code.
#include "cli/events_command.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace gantry::cli {
namespace {

using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;
using testing::TempDir;

http::Response Json(int status, const json& body) {
  return http::Response{.status = status, .body = body.dump()};
}

TEST_CASE("cli usage: the query, a table with a total, json", "[cli][usage]") {
  FakeGantryd fake;
  const json usage = {{"kind", "Usage"},
                      {"since", "2026-12-01T10:00:00.000Z"},
                      {"until", "2026-12-02T10:30:00.000Z"},
                      {"items",
                       {{{"namespace", "team"},
                         {"function", "resize"},
                         {"calls", 1200},
                         {"errors", 3},
                         {"coldStarts", 2},
                         {"gbSeconds", 12.5},
                         {"requestBytes", 2048},
                         {"responseBytes", 20 << 20}}}},
                      {"total", {{"calls", 1200}, {"gbSeconds", 12.5}}}};
  fake.handler = [&](const http::Request&) { return Json(200, usage); };
  auto run = RunGantry(fake, {"usage", "-n", "team", "--since", "2h", "--by", "function"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/team/usage?by=function&since=2h");
  CHECK_THAT(run.out, Catch::StartsWith("FUNCTION"));
  CHECK_THAT(run.out, Catch::Contains("resize"));
  CHECK_THAT(run.out, Catch::Contains("12.500"));
  CHECK_THAT(run.out, Catch::Contains("20Mi"));
  CHECK_THAT(run.out, Catch::Contains("TOTAL"));

  run = RunGantry(fake, {"usage", "-A", "--until", "2026-12-02T10:00:00+01:00", "-o", "json"});
  REQUIRE(run.exit_code == 0);
  CHECK(fake.Target(1) ==
        "/apis/gantry/v1/usage?by=function&since=24h&until=2026-12-02T10:00:00%2B01:00");
  CHECK(json::parse(run.out)["kind"] == "Usage");

  run = RunGantry(fake, {"usage", "--since", "yesterday"});
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("--since"));
  CHECK(fake.requests.size() == 2);  // nothing sent
  CHECK(RunGantry(fake, {"usage", "--by", "minute"}).exit_code == 2);
}

TEST_CASE("cli get triggers, topics and deadletters: paths and tables", "[cli][events]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.url.find("/triggers") != std::string::npos) {
      return Json(200, {{"items",
                         {{{"namespace", "default"},
                           {"function", "report"},
                           {"type", "cron"},
                           {"cron", "30 8 * * MON-FRI"},
                           {"timezone", "Europe/Berlin"},
                           {"missed", "skip"},
                           {"lastFire", nullptr},
                           {"nextFire", "2026-12-03T07:30:00Z"},
                           {"error", ""}},
                          {{"namespace", "default"},
                           {"function", "report"},
                           {"type", "topic"},
                           {"topic", "orders"}}}}});
    }
    if (r.url.find("/topics") != std::string::npos) {
      return Json(200, {{"items",
                         {{{"topic", "orders"},
                           {"subscribers", {"default/report", "shop/bill"}},
                           {"publishToken", true}}}}});
    }
    return Json(200, {{"items",
                       {{{"id", "ev-1.0"},
                         {"namespace", "default"},
                         {"function", "bill"},
                         {"trigger", "topic"},
                         {"topic", "orders"},
                         {"status", 500},
                         {"attempts", 5},
                         {"failedAt", "2026-12-02T10:00:00.000Z"},
                         {"error", ""}}}}});
  };
  auto run = RunGantry(fake, {"get", "triggers"});
  REQUIRE(run.exit_code == 0);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/default/triggers");
  CHECK_THAT(run.out, Catch::Contains("30 8 * * MON-FRI (Europe/Berlin)"));
  CHECK_THAT(run.out, Catch::Contains("2026-12-03T07:30:00Z"));
  CHECK_THAT(run.out, Catch::Contains("orders"));
  run = RunGantry(fake, {"get", "triggers", "-A"});
  CHECK(fake.Target(1) == "/apis/gantry/v1/triggers");
  CHECK_THAT(run.out, Catch::StartsWith("NAMESPACE"));
  run = RunGantry(fake, {"get", "topics"});
  CHECK(fake.Target(2) == "/apis/gantry/v1/topics");
  CHECK_THAT(run.out, Catch::Contains("default/report, shop/bill"));
  run = RunGantry(fake, {"get", "deadletters", "-n", "shop"});
  CHECK(fake.Target(3) == "/apis/gantry/v1/namespaces/shop/deadletters");
  CHECK_THAT(run.out, Catch::Contains("ev-1.0"));
  CHECK_THAT(run.out, Catch::Contains("topic orders"));
}

TEST_CASE("cli publish and replay: the requests and their lines", "[cli][events]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.url.find("/topics/") != std::string::npos) {
      return Json(202,
                  {{"eventId", "ev-9"},
                   {"deliveries",
                    {{{"namespace", "default"}, {"function", "bill"}, {"callId", "ev-9.0"}}}}});
    }
    if (r.method == "GET") return Json(200, {{"items", {{{"id", "a"}}, {{"id", "b"}}}}});
    return Json(202, {{"callId", "new"}, {"function", "bill"}});
  };
  TempDir dir;
  auto run = RunGantry(fake, {"publish", "orders", "-d", "@" + dir.Write("e.json", "{\"id\": 1}")});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(fake.requests[0].method == "POST");
  CHECK(fake.Target(0) == "/topics/orders");
  CHECK(fake.requests[0].body == "{\"id\": 1}");
  CHECK(fake.Header(0, "Content-Type") == "application/json");
  CHECK_THAT(run.out, Catch::Contains("event ev-9 published to topic orders: 1 delivery"));
  CHECK_THAT(run.out, Catch::Contains("default/bill  call ev-9.0"));

  run = RunGantry(fake, {"replay", "deadletters", "--all", "-n", "shop"});
  REQUIRE(run.exit_code == 0);
  CHECK(fake.Target(1) == "/apis/gantry/v1/namespaces/shop/deadletters");
  CHECK(fake.Target(2) == "/apis/gantry/v1/namespaces/shop/deadletters/a/replay");
  CHECK(fake.Target(3) == "/apis/gantry/v1/namespaces/shop/deadletters/b/replay");
  CHECK_THAT(run.out, Catch::Contains("deadletter b replayed to bill as call new"));
  CHECK(RunGantry(fake, {"replay", "deadletter"}).exit_code == 2);  // no id, no --all
}

TEST_CASE("cli map: inputs sent, results written in order, the summary, the exit code",
          "[cli][map]") {
  FakeGantryd fake;
  std::string answer =
      "{\"index\":0,\"status\":200,\"body\":1}\n{\"index\":1,\"status\":500,\"body\":\"x\"}\n"
      "{\"summary\":{\"ok\":1,\"failed\":1,\"retried\":0,\"wallMs\":1500,\"callsPerSecond\":1.3,"
      "\"concurrency\":2,\"replicasPeak\":3,\"coldStarts\":1}}\n";
  fake.handler = [&](const http::Request&) {
    return http::Response{.status = 200, .body = answer};
  };
  TempDir dir;
  const std::string in = dir.Write("in.jsonl", "1\n\n2\n");
  const std::string out = (dir.path() / "out.jsonl").string();
  auto run = RunGantry(fake, {"map", "fn", "-n", "team", "-f", in, "-c", "2", "-o", out});
  CHECK(run.exit_code == 1);  // an input failed
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/team/functions/fn/map?concurrency=2");
  CHECK(fake.requests[0].body == "1\n\n2\n");
  CHECK(fake.chunks_delivered > 3);  // lines arrived split, and were put together
  std::ifstream results(out);
  std::string text((std::istreambuf_iterator<char>(results)), std::istreambuf_iterator<char>());
  CHECK(text ==
        "{\"index\":0,\"status\":200,\"body\":1}\n{\"index\":1,\"status\":500,\"body\":\"x\"}\n");
  CHECK_THAT(run.err, Catch::Contains("1 ok, 1 failed, 0 retried in 1.50s"));
  CHECK_THAT(run.err, Catch::Contains("replicas used: 3, cold starts: 1"));

  answer = "{\"index\":0,\"status\":200,\"body\":1}\n";  // cut off: no summary
  run = RunGantry(fake, {"map", "fn", "-f", in, "-o", out});
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("the stream ended after 1 of 2 results"));
  CHECK(RunGantry(fake, {"map", "fn", "-f", in, "-c", "0"}).exit_code == 2);
}

}  // namespace
}  // namespace gantry::cli
