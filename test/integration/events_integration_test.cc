// Events, map and usage end to end (CTest label "integration"): a real gantryd with a state
// directory of its own, exec functions in a namespace of the test's own.
//  - A `* * * * *` cron trigger, with gantryd's clock for cron run 60 times faster (a tick a
//    second): every tick fires once, across a kill -9 and a restart; the ticks missed
//    while gantryd was down fire once (missed: once), as the latest of them.
//  - A topic event reaches two subscribed functions; the failing one's delivery ends in the
//    dead letters after its retries, and is replayed; publish tokens are for one topic.
//  - `gantry map` over 1,000 inputs: 1,000 ordered results with statuses, the function
//    scaled out within scale.max.
//  - Usage of a 128 Mi function equals the sum of its calls' billed ms x 0.125 GB, on the
//    API, the CLI and /metrics, and after a restart.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "core/time_format.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// These tests wait up to this long for a state (records come in batches; retries back off).
constexpr std::chrono::seconds kPatience = 90s;

void DeployYaml(Gantryd& gantryd, TestEngine& engine, const fs::path& dir, const std::string& name,
                const std::string& spec_yaml) {
  fs::path src = dir / ("src-" + name);
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml") << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n"
                                     << "  name: " << name << "\nspec:\n"
                                     << spec_yaml;
  Deploy(gantryd, LoadFunctionInto(engine.value(), src / "gantry.yaml"));
}

// The cron calls of `fn` that succeeded, by their tick (the function echoes its
// X-Gantry-Cron-Tick header); fails on a tick answered twice.
std::map<std::string, int> CronTicks(const Gantryd& g, const std::string& ns,
                                     const std::string& fn) {
  Reply r = g.Call(
      "GET", "/apis/gantry/v1/namespaces/" + ns + "/functions/" + fn + "/invocations?limit=1000");
  std::map<std::string, int> ticks;
  for (const auto& item : r.Json().value("items", json::array())) {
    if (item.value("trigger", "") != "cron" || item.value("state", "") != "succeeded") continue;
    std::string tick = item["result"].value("body", "");
    while (!tick.empty() && (tick.back() == '\n' || tick.back() == ' ')) tick.pop_back();
    ticks[tick] += 1;
  }
  return ticks;
}

int64_t TickSeconds(const std::string& tick) {
  auto t = core::ParseUtc(tick);
  REQUIRE(t.ok());
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

TEST_CASE("cron: every tick fires once across kill -9 and restart, missed ones once",
          "[integration][events]") {
  TestEngine engine;
  StateDir state(engine);
  const std::vector<std::string> args = {"--test-clock-speed", "60", "--cron-poll", "100ms"};
  auto gantryd = std::make_unique<Gantryd>(engine, state.path(), args);
  const std::string ns = engine.value();
  DeployYaml(*gantryd, engine, state.path(), "ticker",
             "  runtime: exec\n  command: [\"sh\", \"-c\", \"echo $Http_X_Gantry_Cron_Tick\"]\n"
             "  triggers:\n    - cron: \"* * * * *\"\n");
  const std::string triggers = "/apis/gantry/v1/namespaces/" + ns + "/triggers";
  json listed = PollJson(
      *gantryd, triggers,
      [](const json& j) { return !j["items"].empty() && !j["items"][0]["lastFire"].is_null(); },
      kPatience);
  INFO(listed.dump());
  REQUIRE(listed["items"].size() == 1);
  CHECK(listed["items"][0]["cron"] == "* * * * *");
  CHECK(listed["items"][0]["missed"] == "once");
  CHECK(TickSeconds(listed["items"][0]["nextFire"]) > TickSeconds(listed["items"][0]["lastFire"]));

  auto wait_for_ticks = [&](std::size_t n) {
    for (auto until = std::chrono::steady_clock::now() + 90s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(200ms)) {
      if (CronTicks(*gantryd, ns, "ticker").size() >= n) return;
    }
  };
  wait_for_ticks(4);
  REQUIRE(CronTicks(*gantryd, ns, "ticker").size() >= 4);
  gantryd->Stop(SIGKILL);
  std::this_thread::sleep_for(4s);  // ~4 ticks while gantryd is down
  gantryd = std::make_unique<Gantryd>(engine, state.path(), args);
  const std::size_t before = CronTicks(*gantryd, ns, "ticker").size();
  wait_for_ticks(before + 4);
  std::this_thread::sleep_for(300ms);
  gantryd->Stop(SIGTERM);
  gantryd = std::make_unique<Gantryd>(engine, state.path(),
                                      std::vector<std::string>{"--cron-poll", "1h"});
  // Every queued tick runs to its end (the cron clock now is the wall clock: no new ticks).
  json all = PollJson(
      *gantryd, "/apis/gantry/v1/namespaces/" + ns + "/functions/ticker/invocations?limit=1000",
      [](const json& j) {
        for (const auto& item : j["items"]) {
          const std::string s = item.value("state", "");
          if (s == "queued" || s == "running") return false;
        }
        return true;
      },
      kPatience);
  std::map<std::string, int> ticks = CronTicks(*gantryd, ns, "ticker");
  INFO(all.dump(1) << "\n" << gantryd->Log());
  REQUIRE(ticks.size() >= 8);
  std::vector<int64_t> seconds;
  for (const auto& [tick, count] : ticks) {
    INFO(tick);
    CHECK(count == 1);  // never fired twice
    seconds.push_back(TickSeconds(tick));
  }
  // Consecutive minutes, but for one gap: the kill. The tick after it is the latest missed
  // one (fired once for all of them), so the gap spans the ticks missed, >= 2 minutes.
  int gaps = 0;
  for (std::size_t i = 1; i < seconds.size(); ++i) {
    const int64_t step = seconds[i] - seconds[i - 1];
    CHECK(step % 60 == 0);
    if (step != 60) {
      ++gaps;
      CHECK(step >= 120);
    }
  }
  CHECK(gaps == 1);
  for (const auto& item : all["items"]) CHECK(item.value("state", "") == "succeeded");
}

TEST_CASE("topics: an event reaches every subscriber, a failing delivery is a dead letter",
          "[integration][events]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path(), {"--async-retry-delay", "50ms"});
  INFO(gantryd.Log());
  const std::string ns = engine.value();
  const std::string topic = "orders-" + engine.value().substr(engine.value().size() - 6);
  DeployYaml(
      gantryd, engine, state.path(), "keeper",
      "  runtime: exec\n  command: [\"sh\", \"-c\", \"cat; echo \\\" $Http_X_Gantry_Topic\\\"\"]\n"
      "  triggers:\n    - topic: " +
          topic + "\n");
  DeployYaml(gantryd, engine, state.path(), "breaker",
             "  runtime: exec\n  command: [\"sh\", \"-c\", \"cat >/dev/null; exit 3\"]\n"
             "  triggers:\n    - topic: " +
                 topic + "\n");

  // A publish token is for its topic only, and for nothing else.
  Reply token = gantryd.Call("PUT", "/apis/gantry/v1/topics/" + topic + "/token");
  REQUIRE(token.status == 201);
  const std::string bearer = "Authorization: Bearer " + token.Json().value("token", "");
  CHECK(gantryd.Call("POST", "/topics/" + topic, "{}", {"Authorization: Bearer wrong"}, false)
            .status == 401);
  CHECK(gantryd.Call("POST", "/topics/elsewhere", "{}", {bearer}, false).status == 401);
  CHECK(gantryd.Call("GET", "/apis/gantry/v1/namespaces/" + ns + "/functions", "", {bearer}, false)
            .status == 401);
  CHECK(gantryd.Call("POST", "/topics/Bad_Name", "{}").status == 400);

  Reply published = gantryd.Call("POST", "/topics/" + topic, R"({"order": 7})",
                                 {bearer, "Content-Type: application/json"}, false);
  INFO(published.body);
  REQUIRE(published.status == 202);
  json event = published.Json();
  REQUIRE(event["deliveries"].size() == 2);
  std::map<std::string, std::string> call_of;
  for (const auto& d : event["deliveries"]) call_of[d["function"]] = d["callId"];
  const std::string base = "/apis/gantry/v1/namespaces/" + ns;
  json kept = PollJson(
      gantryd, base + "/invocations/" + call_of["keeper"],
      [](const json& j) { return j.value("state", "") == "succeeded"; }, kPatience);
  CHECK(kept["trigger"] == "topic");
  CHECK(kept["result"]["body"] == "{\"order\": 7} " + topic + "\n");

  // 5 attempts (50, 100, 200, 400 ms apart), then a dead letter.
  json letters = PollJson(
      gantryd, base + "/deadletters", [](const json& j) { return j["items"].size() == 1; },
      kPatience);
  INFO(letters.dump());
  REQUIRE(letters["items"].size() == 1);
  const json& letter = letters["items"][0];
  CHECK(letter["id"] == call_of["breaker"]);
  CHECK(letter["function"] == "breaker");
  CHECK(letter["topic"] == topic);
  CHECK(letter["eventId"] == event["eventId"]);
  CHECK(letter["attempts"] == 5);
  CHECK(letter["status"] == 500);
  CHECK(letter["body"] == R"({"order": 7})");
  json failed = gantryd.Call("GET", base + "/invocations/" + call_of["breaker"]).Json();
  CHECK(failed["state"] == "failed");
  CHECK(failed["attempts"] == 5);

  int code = 0;
  std::string table = Cli(gantryd, "get deadletters -n " + ns, code);
  INFO(table);
  CHECK(code == 0);
  CHECK_THAT(table, Catch::Contains(call_of["breaker"]));
  CHECK_THAT(table, Catch::Contains("topic " + topic));

  // Replayed: queued again as a new call (and gone from the list), which fails again.
  std::string replayed =
      Cli(gantryd, "replay deadletter " + call_of["breaker"] + " -n " + ns, code);
  INFO(replayed);
  CHECK(code == 0);
  CHECK_THAT(replayed, Catch::Contains("replayed to breaker as call "));
  const std::string again_id = replayed.substr(replayed.rfind(' ') + 1, 36);
  json again = PollJson(
      gantryd, base + "/invocations/" + again_id,
      [](const json& j) { return j.value("state", "") == "failed"; }, kPatience);
  CHECK(again["trigger"] == "topic");
  CHECK(again["attempts"] == 5);
  letters = PollJson(
      gantryd, base + "/deadletters",
      [&](const json& j) { return j["items"].size() == 1 && j["items"][0]["id"] == again_id; },
      kPatience);
  CHECK(letters["items"].size() == 1);
  CHECK(letters["items"][0]["id"] == again_id);

  // `gantry publish` and the topic list.
  std::string out = Cli(gantryd, "publish " + topic + " -d '{\"order\": 8}'", code);
  INFO(out);
  CHECK(code == 0);
  CHECK_THAT(out, Catch::Contains(": 2 deliveries"));
  json topics = gantryd.Call("GET", "/apis/gantry/v1/topics").Json();
  INFO(topics.dump());
  REQUIRE(topics["items"].size() == 1);
  CHECK(topics["items"][0]["subscribers"].size() == 2);
  CHECK(topics["items"][0]["publishToken"] == true);
}

TEST_CASE("map: 1,000 inputs give 1,000 ordered results as the function scales out, usage adds up",
          "[integration][events]") {
  TestEngine engine;
  StateDir state(engine);
  auto gantryd = std::make_unique<Gantryd>(engine, state.path());
  INFO(gantryd->Log());
  const std::string ns = engine.value();
  DeployYaml(*gantryd, engine, state.path(), "slowecho",
             "  runtime: exec\n  command: [\"sh\", \"-c\", \"sleep 0.02; cat\"]\n"
             "  resources: {memory: 128Mi}\n  scale: {max: 4}\n");
  fs::path inputs = state.path() / "inputs.jsonl";
  {
    std::ofstream in(inputs);
    for (int i = 0; i < 1000; ++i) in << "{\"n\": " << i << "}\n";
  }
  fs::path results = state.path() / "results.jsonl";
  int code = 0;
  std::string out = Cli(
      *gantryd,
      "map slowecho -n " + ns + " -f " + inputs.string() + " -c 32 -o " + results.string(), code);
  INFO(out);
  CHECK(code == 0);
  std::ifstream in(results);
  std::string line;
  int index = 0;
  while (std::getline(in, line)) {
    json r = json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE(r.is_object());
    CHECK(r["index"] == index);
    CHECK(r["status"] == 200);
    CHECK(r["body"]["n"] == index);
    ++index;
  }
  CHECK(index == 1000);
  CHECK_THAT(out, Catch::Contains("1000 ok, 0 failed"));
  // "replicas used: N" with 2 <= N <= scale.max
  const auto at = out.find("replicas used: ");
  REQUIRE(at != std::string::npos);
  const int used = std::stoi(out.substr(at + 15));
  CHECK(used >= 2);
  CHECK(used <= 4);

  // The API streams the same, with the summary last; a bad concurrency is 400.
  Reply api = gantryd->Call(
      "POST", "/apis/gantry/v1/namespaces/" + ns + "/functions/slowecho/map?concurrency=4",
      "{\"a\": 1}\n\n\"two\"\n");
  INFO(api.body);
  REQUIRE(api.status == 200);
  CHECK(api.headers["content-type"] == "application/x-ndjson");
  CHECK_THAT(api.body, Catch::StartsWith("{\"attempts\":1,\"body\":{\"a\":1},"));
  CHECK_THAT(api.body, Catch::Contains("\"body\":\"two\""));
  CHECK_THAT(api.body, Catch::Contains("{\"summary\":{"));
  CHECK(gantryd
            ->Call("POST",
                   "/apis/gantry/v1/namespaces/" + ns + "/functions/slowecho/map?concurrency=0",
                   "1\n")
            .status == 400);
  CHECK(gantryd->Call("POST", "/apis/gantry/v1/namespaces/" + ns + "/functions/nothing/map", "1\n")
            .status == 404);

  // Usage: every call's billed ms (its record's) x 0.125 GB.
  const std::string base = "/apis/gantry/v1/namespaces/" + ns;
  json records = PollJson(
      *gantryd, base + "/functions/slowecho/invocations?limit=1000",
      [](const json& j) { return j["items"].size() == 1000; }, kPatience);
  REQUIRE(records["items"].size() == 1000);
  json usage = PollJson(
      *gantryd, base + "/usage",
      [](const json& j) { return !j["items"].empty() && j["items"][0]["calls"] == 1002; },
      kPatience);
  INFO(usage.dump());
  REQUIRE(usage["items"].size() == 1);
  CHECK(usage["items"][0]["function"] == "slowecho");
  CHECK(usage["items"][0]["calls"] == 1002);
  CHECK(usage["items"][0]["errors"] == 0);
  // The newest 1000 records: all but the two oldest calls.
  int64_t newest_billed = 0;
  for (const auto& r : records["items"]) {
    CHECK(r["memoryBytes"] == 128 << 20);
    newest_billed += r["billedMs"].get<int64_t>();
  }
  const int64_t billed = usage["items"][0]["billedMs"].get<int64_t>();
  CHECK(billed >= newest_billed);
  CHECK(billed - newest_billed <= 2 * 60'000);  // two calls at most a minute each
  CHECK(usage["items"][0]["gbSeconds"].get<double>() ==
        Approx(static_cast<double>(billed) * 0.125 / 1000));
  CHECK(usage["total"]["billedMs"] == billed);
  // By hour: the same total, in this hour (or two, around an hour's turn).
  json hours = gantryd->Call("GET", base + "/usage?by=hour").Json();
  CHECK(hours["total"]["billedMs"] == billed);
  CHECK(!hours["items"].empty());
  CHECK(hours["items"].size() <= 2);

  std::string metrics = gantryd->Call("GET", "/metrics").body;
  const std::string series =
      "gantry_function_compute_gb_seconds_total{namespace=\"" + ns + "\",function=\"slowecho\"} ";
  const auto m = metrics.find(series);
  REQUIRE(m != std::string::npos);
  CHECK(std::stod(metrics.substr(m + series.size())) ==
        Approx(static_cast<double>(billed) * 0.125 / 1000));

  std::string table = Cli(*gantryd, "usage -n " + ns, code);
  INFO(table);
  CHECK(code == 0);
  CHECK_THAT(table, Catch::Contains("slowecho"));
  CHECK_THAT(table, Catch::Contains("1002"));

  // Durable: the same after a restart (and the counter goes on from it).
  gantryd->Stop(SIGTERM);
  gantryd = std::make_unique<Gantryd>(engine, state.path());
  json after = gantryd->Call("GET", base + "/usage").Json();
  CHECK(after["total"]["billedMs"] == billed);
  metrics = gantryd->Call("GET", "/metrics").body;
  const auto m2 = metrics.find(series);
  REQUIRE(m2 != std::string::npos);
  CHECK(std::stod(metrics.substr(m2 + series.size())) ==
        Approx(static_cast<double>(billed) * 0.125 / 1000));
}

}  // namespace
}  // namespace gantry::testing
