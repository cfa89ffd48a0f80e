// Paused replicas end to end (CTest label "integration"): the real gantryd (--label
// gantry.test=<value>, a state directory of its own) and an exec function with
// scale.pauseAfter 1s. After a call its replica is paused by the engine; the next call
// unpauses it (X-Gantry-Start: unpaused, and its record says so) and it is paused again;
// gantryd killed with -9 while it is paused and started again adopts it (no orphan) and
// serves; deleting the function removes the paused replica.
//
// GANTRY_PAUSE_SAMPLES=N (default 0) also measures N unpaused first calls against N warm
// ones and prints their medians (client side, through gantryd's gateway).
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Polls `done` every 50 ms for up to `patience`; its last answer.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds patience = 15s) {
  for (auto until = std::chrono::steady_clock::now() + patience;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
}

bool EnginePaused(TestEngine& engine, const std::string& id) {
  auto info = engine.client().InspectContainer(id);
  return info.ok() && info->state.paused;
}

// The one container of `function` (the test's label); "" when there is not exactly one.
std::string OnlyContainer(TestEngine& engine, const std::string& function) {
  auto ids = ContainersOf(engine, function);
  return ids.size() == 1 ? *ids.begin() : "";
}

double Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

TEST_CASE("pause: an idle replica is paused, the next call unpauses it, restart and delete",
          "[integration][pause]") {
  TestEngine engine;
  StateDir state(engine);
  auto process = std::make_unique<Gantryd>(engine, state.path());
  const std::string ns = engine.value();
  const std::string name = "paused";
  fs::path src = state.path() / "src";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
      << "\nspec:\n  runtime: exec\n  command: [\"cat\"]\n  scale:\n    pauseAfter: 1s\n";
  spec::FunctionSpec fn = LoadFunctionInto(ns, src / "gantry.yaml");
  Deploy(*process, fn);
  const std::string invoke = "/function/" + name + "." + ns;
  const std::string describe = FunctionPath(fn);
  auto call = [&](const std::string& body) {
    Reply r = process->Call("POST", invoke, body, {}, /*auth=*/false);
    INFO(r.body << "\n" << process->Log());
    REQUIRE(r.status == 200);
    CHECK(r.body == body);
    return r;
  };

  Reply first = call("cold");
  CHECK(first.headers["x-gantry-start"] == "container");
  CHECK(first.headers["x-cold-start"] == "true");
  const std::string id = OnlyContainer(engine, name);
  REQUIRE_FALSE(id.empty());

  // Idle for pauseAfter (and a control pass): paused by the engine, still a live replica.
  REQUIRE(PollUntil([&] { return EnginePaused(engine, id); }));
  json st = process->Call("GET", describe).Json()["status"];
  INFO(st.dump());
  CHECK(st["pausedReplicas"] == 1);
  CHECK(st["readyReplicas"] == 1);
  REQUIRE(st["replicas"].size() == 1);
  CHECK(st["replicas"][0]["state"] == "paused");

  Reply unpaused = call("thawed");
  CHECK(unpaused.headers["x-gantry-start"] == "unpaused");
  CHECK(unpaused.headers["x-cold-start"] == "false");
  CHECK(OnlyContainer(engine, name) == id);  // the same container: no new start
  CHECK_FALSE(EnginePaused(engine, id));
  const std::string call_id = unpaused.headers["x-call-id"];
  json record;
  REQUIRE(PollUntil([&] {
    Reply r = process->Call("GET", "/apis/gantry/v1/namespaces/" + ns + "/invocations/" + call_id);
    record = r.Json();
    return r.status == 200;
  }));
  INFO(record.dump());
  CHECK(record["start"] == "unpaused");
  CHECK(record["cold"] == false);

  // Idle again: paused again.
  REQUIRE(PollUntil([&] { return EnginePaused(engine, id); }));

  if (const char* n = std::getenv("GANTRY_PAUSE_SAMPLES"); n != nullptr && std::atoi(n) > 0) {
    std::vector<double> thawed, warm;
    for (int i = 0; i < std::atoi(n); ++i) {
      REQUIRE(PollUntil([&] { return EnginePaused(engine, id); }));
      auto t0 = std::chrono::steady_clock::now();
      Reply r = call("sample");
      auto t1 = std::chrono::steady_clock::now();
      CHECK(r.headers["x-gantry-start"] == "unpaused");
      call("sample");
      auto t2 = std::chrono::steady_clock::now();
      thawed.push_back(Millis(t1 - t0));
      warm.push_back(Millis(t2 - t1));
    }
    std::cout << "pause: " << thawed.size() << " samples: unpause + first call median "
              << Median(thawed) << " ms, warm call median " << Median(warm) << " ms\n";
  }

  // kill -9 with the replica paused, then start again: the paused container is unpaused
  // and adopted (the same one serves), nothing is left over.
  REQUIRE(PollUntil([&] { return EnginePaused(engine, id); }));
  process->Stop(SIGKILL);
  process = std::make_unique<Gantryd>(engine, state.path());
  INFO(process->Log());
  CHECK(OnlyContainer(engine, name) == id);
  st = process->Call("GET", describe).Json()["status"];
  REQUIRE(st["replicas"].size() == 1);
  CHECK(st["replicas"][0]["id"] == id.substr(0, 12));
  Reply after = call("adopted");
  CHECK(
      (after.headers["x-gantry-start"] == "warm" || after.headers["x-gantry-start"] == "unpaused"));
  CHECK(OnlyContainer(engine, name) == id);

  // Deleting the function removes its paused replica.
  REQUIRE(PollUntil([&] { return EnginePaused(engine, id); }));
  Reply deleted = process->Call("DELETE", describe);
  INFO(deleted.body);
  REQUIRE((deleted.status == 200 || deleted.status == 204));
  CHECK(PollUntil([&] { return ContainersOf(engine, name).empty(); }));
}

}  // namespace
}  // namespace gantry::testing
