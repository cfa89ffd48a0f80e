// The cron scheduler over a real store in a temporary directory and a ManualClock: a new
// trigger starts from now, each tick is queued once (with its headers and body), missed
// ticks fire once (`once`) or not (`skip`), a changed schedule starts afresh, functions
// without a deployment don't fire, and the trigger list shows last and next fire.
#include "daemon/trigger_scheduler.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

struct Fixture {
  static inline int n_ = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("gantry-cron-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
  core::ManualClock clock;
  std::unique_ptr<store::Store> store;

  Fixture() {
    fs::create_directories(dir);
    auto opened = store::Store::Open((dir / "gantry.db").string());  // its own (real) clock
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }
  ~Fixture() { fs::remove_all(dir); }

  void Put(const std::string& name, json triggers, bool deployed = true) {
    store::FunctionRecord r{.namespace_name = "default",
                            .name = name,
                            .spec_json = json{{"spec", {{"triggers", std::move(triggers)}}}}.dump(),
                            .hash = "sha256:" + std::to_string(n_++),
                            .image = "img",
                            .status = "ready",
                            .deployment_json = deployed ? "{}" : ""};
    REQUIRE(store->PutFunction(r).ok());
  }

  // The calls queued so far, oldest first (claimed and finished, so they are gone after).
  std::vector<store::AsyncCall> Drain() {
    std::vector<store::AsyncCall> calls;
    while (true) {
      auto c = store->ClaimAsync();
      REQUIRE(c.ok());
      if (!c->has_value()) return calls;
      REQUIRE(store->FinishAsync((*c)->call_id).ok());
      calls.push_back(std::move(**c));
    }
  }
};

json Cron(const std::string& expr, const std::string& missed = "once") {
  return {{"cron", expr},
          {"timezone", "UTC"},
          {"missed", missed},
          {"body", "{\"go\": 1}"},
          {"headers", {{"Content-Type", "application/json"}}}};
}

TEST_CASE("cron scheduler: a tick is queued once, with its headers and body", "[daemon][cron]") {
  Fixture f;
  f.Put("every", json::array({Cron("* * * * *")}));
  TriggerScheduler s(*f.store, f.clock);
  CHECK(s.RunOnce() == 0);  // new: starts now (2026-01-01T00:00:00Z)
  f.clock.Advance(seconds(59));
  CHECK(s.RunOnce() == 0);
  f.clock.Advance(seconds(1));
  CHECK(s.RunOnce() == 1);  // 00:01
  CHECK(s.RunOnce() == 0);  // the same tick: never twice
  TriggerScheduler restarted(*f.store, f.clock);
  CHECK(restarted.RunOnce() == 0);  // nor by another scheduler on the same store
  auto calls = f.Drain();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].trigger == "cron");
  CHECK(calls[0].function == "every");
  CHECK(calls[0].body == "{\"go\": 1}");
  json headers = json::parse(calls[0].headers_json);
  CHECK(headers["Content-Type"] == "application/json");
  CHECK(headers["X-Gantry-Trigger"] == "cron");
  CHECK(headers["X-Gantry-Cron-Tick"] == "2026-01-01T00:01:00Z");
  CHECK_FALSE(headers.contains("X-Gantry-Missed-Ticks"));
}

TEST_CASE("cron scheduler: missed ticks fire once (missed: once) or not at all (skip)",
          "[daemon][cron]") {
  Fixture f;
  f.Put("once", json::array({Cron("*/5 * * * *")}));
  f.Put("skip", json::array({Cron("*/5 * * * *", "skip")}));
  TriggerScheduler s(*f.store, f.clock);
  CHECK(s.RunOnce() == 0);
  f.clock.Advance(minutes(32) + seconds(10));  // gantryd "down": 00:05 ... 00:30 missed
  CHECK(s.RunOnce() == 1);                     // once: the latest (00:30), for all six
  auto calls = f.Drain();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].function == "once");
  json headers = json::parse(calls[0].headers_json);
  CHECK(headers["X-Gantry-Cron-Tick"] == "2026-01-01T00:30:00Z");
  CHECK(headers["X-Gantry-Missed-Ticks"] == "5");
  // Both go on from 00:30: the next tick (00:35) is on time for both.
  f.clock.Advance(minutes(2) + seconds(50));
  CHECK(s.RunOnce() == 2);
  CHECK(f.Drain().size() == 2);
  auto list = s.List("default");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].function == "once");
  CHECK((*list)[0].last_unix_ms == 1'767'225'600'000 + 35 * 60'000);
  CHECK((*list)[0].next_unix_ms == 1'767'225'600'000 + 40 * 60'000);
  CHECK((*list)[1].missed == "skip");
}

TEST_CASE("cron scheduler: a changed schedule starts afresh, undeployed functions wait",
          "[daemon][cron]") {
  Fixture f;
  f.Put("fn", json::array({Cron("0 * * * *")}));
  f.Put("building", json::array({Cron("* * * * *")}), /*deployed=*/false);
  TriggerScheduler s(*f.store, f.clock);
  CHECK(s.RunOnce() == 0);
  f.clock.Advance(minutes(90));
  f.Put("fn", json::array({Cron("*/10 * * * *")}));  // 01:00 was due under the old schedule
  CHECK(s.RunOnce() == 0);                           // the new one starts at 01:30
  f.clock.Advance(minutes(10));
  CHECK(s.RunOnce() == 1);  // 01:40
  auto calls = f.Drain();
  REQUIRE(calls.size() == 1);
  CHECK(json::parse(calls[0].headers_json)["X-Gantry-Cron-Tick"] == "2026-01-01T01:40:00Z");
  // The topic entry of a trigger list is not a cron; a bad zone shows as the item's error.
  f.Put("zoned",
        json::array({{{"topic", "orders"}}, {{"cron", "* * * * *"}, {"timezone", "Nowhere/X"}}}));
  CHECK(s.RunOnce() == 0);
  auto list = s.List("default");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);  // fn and zoned (building has no deployment)
  CHECK((*list)[1].function == "zoned");
  CHECK((*list)[1].index == 1);
  CHECK_THAT((*list)[1].error, Catch::Contains("unknown time zone"));
  auto subscriptions = TopicSubscriptions(*f.store);
  REQUIRE(subscriptions.ok());
  REQUIRE(subscriptions->count("orders") == 1);
  CHECK(subscriptions->at("orders").size() == 1);
}

}  // namespace
}  // namespace gantry::daemon
