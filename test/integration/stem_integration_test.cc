// Stem cells end to end (CTest label "integration"): the real gantryd with --stem-cells 1,
// a state directory of its own and the test's label. A new python3 function's first call
// is served by a specialised stem cell (X-Gantry-Start and the record say so), the cell is
// refilled, a second function never gets the first's container, and after kill -9 a
// restarted gantryd adopts the specialised cells and removes the free one: no container
// of the test is left at the end.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// gantry_stem_cells{runtime="<runtime>"} on /metrics; -1 when not there.
int FreeCells(const Gantryd& g, const std::string& runtime) {
  Reply r = g.Call("GET", "/metrics");
  std::smatch m;
  std::regex gauge("gantry_stem_cells\\{runtime=\"" + runtime + "\"\\} ([0-9.]+)");
  if (r.status != 200 || !std::regex_search(r.body, m, gauge)) return -1;
  return static_cast<int>(std::stod(m[1]));
}

// Waits (bounded) until `runtime` has `n` free cells; false if it did not.
bool WaitFreeCells(const Gantryd& g, const std::string& runtime, int n,
                   std::chrono::seconds patience) {
  for (auto until = std::chrono::steady_clock::now() + patience;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
    if (FreeCells(g, runtime) == n) return true;
  }
  return false;
}

// The test's containers carrying label `label` (any state), by short id (as records
// name replicas).
std::set<std::string> Labelled(TestEngine& engine, const std::string& label) {
  auto list = engine.client().ListContainers({engine.selector(), label}, true);
  REQUIRE(list.ok());
  std::set<std::string> ids;
  for (const auto& c : *list) ids.insert(c.id.substr(0, 12));
  return ids;
}

// The newest invocation record of ns/name, polled until there is one (records are
// written in batches).
json LastRecord(const Gantryd& g, const std::string& ns, const std::string& name) {
  std::string path = "/apis/gantry/v1/namespaces/" + ns + "/functions/" + name + "/invocations";
  json j;
  for (auto until = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
    Reply r = g.Call("GET", path);
    j = r.Json();
    if (r.status == 200 && j.contains("items") && !j["items"].empty()) return j["items"][0];
  }
  return json::object();
}

TEST_CASE("stem cells: a first call specialises a cell, refilled, never shared, restart-safe",
          "[integration][stem]") {
  TestEngine engine;
  StateDir state(engine);
  auto gantryd = std::make_unique<Gantryd>(engine, state.path(),
                                           std::vector<std::string>{"--stem-cells", "1"});
  INFO(gantryd->Log());
  const std::string ns = engine.value();
  // The stem image is built in the background at the first start (once per content).
  REQUIRE(WaitFreeCells(*gantryd, "python3", 1, 240s));

  spec::FunctionSpec alpha = LoadExampleInto(ns, "hello-python");
  Deploy(*gantryd, alpha);
  Reply first = gantryd->Call("GET", "/function/hello-python." + ns + "?name=Ada", "", {}, false);
  INFO(first.body << "\n" << gantryd->Log());
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-gantry-start"] == "stem-cell");
  CHECK(first.headers["x-cold-start"] == "true");
  // The package's dependency (greetings, from requirements.txt) and the spec's env reached
  // the handler in the cell.
  CHECK(first.Json()["message"].get<std::string>().find("Ada") != std::string::npos);
  json record = LastRecord(*gantryd, ns, "hello-python");
  INFO(record.dump());
  CHECK(record["start"] == "stem-cell");
  const std::string alpha_replica = record.value("replica", "");
  CHECK_FALSE(alpha_replica.empty());
  Reply warm = gantryd->Call("GET", "/function/hello-python." + ns + "?name=Bo", "", {}, false);
  CHECK(warm.status == 200);
  CHECK(warm.headers["x-gantry-start"] == "warm");

  // Refilled: a new free cell, another container than the specialised one.
  REQUIRE(WaitFreeCells(*gantryd, "python3", 1, 60s));
  std::set<std::string> cells = Labelled(engine, "gantry.stem=python3");
  CHECK(cells.size() == 2);
  CHECK(cells.count(alpha_replica) == 1);

  // A second python3 function gets the new cell, never the first's container.
  fs::path beta_dir = state.path() / "beta";
  fs::create_directories(beta_dir);
  std::ofstream(beta_dir / "handler.py") << "def main(req):\n    return 'beta'\n";
  std::ofstream(beta_dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: beta\nspec:\n"
         "  runtime: python3\n  handler: handler.main\n  source: .\n";
  spec::FunctionSpec beta = LoadFunctionInto(ns, beta_dir / "gantry.yaml");
  Deploy(*gantryd, beta);
  Reply other = gantryd->Call("POST", "/function/beta." + ns, "x", {}, false);
  INFO(other.body);
  REQUIRE(other.status == 200);
  CHECK(other.body == "beta");
  CHECK(other.headers["x-gantry-start"] == "stem-cell");
  json beta_record = LastRecord(*gantryd, ns, "beta");
  const std::string beta_replica = beta_record.value("replica", "");
  CHECK_FALSE(beta_replica.empty());
  CHECK(beta_replica != alpha_replica);
  REQUIRE(WaitFreeCells(*gantryd, "python3", 1, 60s));  // a free cell again
  std::set<std::string> before_kill = Labelled(engine, "gantry.stem=python3");
  REQUIRE(before_kill.size() == 3);

  // kill -9 with two specialised cells and a free one; a restart without cells adopts the
  // specialised ones (their owner markers) and removes the free one.
  REQUIRE(gantryd->Stop(SIGKILL) != 0);
  gantryd = std::make_unique<Gantryd>(engine, state.path(),
                                      std::vector<std::string>{"--stem-cells", "0"});
  std::set<std::string> after = Labelled(engine, "gantry.stem=python3");
  INFO(gantryd->Log());
  CHECK(after == std::set<std::string>{alpha_replica, beta_replica});
  Reply again = gantryd->Call("GET", "/function/hello-python." + ns + "?name=Cy", "", {}, false);
  CHECK(again.status == 200);
  CHECK(again.headers["x-gantry-start"] == "warm");  // the adopted cell serves it
  Reply beta_again = gantryd->Call("POST", "/function/beta." + ns, "x", {}, false);
  CHECK(beta_again.body == "beta");
  CHECK(beta_again.headers["x-gantry-start"] == "warm");

  // Deleting the functions removes their (specialised) cells: nothing of the test is left.
  CHECK(gantryd->Call("DELETE", FunctionPath(alpha)).status == 200);
  CHECK(gantryd->Call("DELETE", FunctionPath(beta)).status == 200);
  gantryd->Stop(SIGTERM);
  CHECK(Labelled(engine, "gantry.replica").empty());
  auto all = engine.client().ListContainers({engine.selector()}, true);
  REQUIRE(all.ok());
  CHECK(all->empty());
}

// Not run by default (`stem_integration_test "[.bench]"`): the first call of ten new python3
// functions through a stem cell, then of ten through a new container, medians printed.
TEST_CASE("stem cells: first-call latency, stem cell vs new container", "[.bench]") {
  TestEngine engine;
  StateDir state(engine);
  const std::string ns = engine.value();
  constexpr int kCalls = 10;
  auto first_calls = [&](Gantryd& g, const std::string& prefix, bool cells) {
    std::vector<double> ms;
    std::map<std::string, int> paths;
    for (int i = 0; i < kCalls; ++i) {
      if (cells) REQUIRE(WaitFreeCells(g, "python3", 1, 60s));
      std::string name = prefix + std::to_string(i);
      fs::path dir = state.path() / name;
      fs::create_directories(dir);
      std::ofstream(dir / "handler.py") << "def main(req):\n    return 'hi'\n";
      std::ofstream(dir / "gantry.yaml")
          << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
          << "\nspec:\n  runtime: python3\n  handler: handler.main\n  source: .\n";
      Deploy(g, LoadFunctionInto(ns, dir / "gantry.yaml"));
      auto start = std::chrono::steady_clock::now();
      Reply r = g.Call("POST", "/function/" + name + "." + ns, "x", {}, false);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      REQUIRE(r.status == 200);
      ++paths[r.headers["x-gantry-start"]];
    }
    std::sort(ms.begin(), ms.end());
    for (const auto& [path, n] : paths) std::printf("  %s: %d calls\n", path.c_str(), n);
    std::printf("%s: median %.1f ms, min %.1f, max %.1f\n", prefix.c_str(), ms[kCalls / 2],
                ms.front(), ms.back());
    for (int i = 0; i < kCalls; ++i) {
      g.Call("DELETE",
             "/apis/gantry/v1/namespaces/" + ns + "/functions/" + prefix + std::to_string(i));
    }
  };
  {
    Gantryd g(engine, state.path(), {"--stem-cells", "1"});
    REQUIRE(WaitFreeCells(g, "python3", 1, 240s));
    first_calls(g, "stem", true);
  }
  {
    Gantryd g(engine, state.path(), {"--stem-cells", "0"});
    first_calls(g, "container", false);
  }
  engine.RemoveAll();
}

// Not run by default (`stem_integration_test "[.runtimes]"`): node and exec functions
// first calls through their runtimes' stem cells.
TEST_CASE("stem cells: node and exec functions are served by their runtimes' cells",
          "[.runtimes]") {
  TestEngine engine;
  StateDir state(engine);
  const std::string ns = engine.value();
  {
    Gantryd g(engine, state.path(), {"--stem-cells", "1"});
    INFO(g.Log());
    REQUIRE(WaitFreeCells(g, "node", 1, 240s));
    REQUIRE(WaitFreeCells(g, "exec", 1, 240s));
    for (const char* example : {"hello-node", "echo"}) {
      spec::FunctionSpec fn = LoadExampleInto(ns, example);
      Deploy(g, fn);
      Reply r =
          g.Call("POST", "/function/" + fn.name() + "." + ns, "{\"name\": \"Ada\"}", {}, false);
      INFO(example << ": " << r.body << "\n" << g.Log());
      CHECK(r.status == 200);
      CHECK(r.headers["x-gantry-start"] == "stem-cell");
      CHECK(r.body.find("Ada") != std::string::npos);
      CHECK(g.Call("DELETE", FunctionPath(fn)).status == 200);
    }
  }
  engine.RemoveAll();
}

}  // namespace
}  // namespace gantry::testing
