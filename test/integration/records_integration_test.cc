// Invocation records end to end (CTest label "integration"): the real gantryd with a state
// directory of its own and --label gantry.test=<value>, exec functions in a namespace of the
// test's own. Sync calls (a 200 and a function's 500) and an async call are recorded,
// listed, filtered, found by id (the async one with its state and result), shown by the CLI,
// and still there after gantryd restarts.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

spec::FunctionSpec Deploy(Gantryd& gantryd, TestEngine& engine, const fs::path& dir,
                          const std::string& name, const std::string& command) {
  fs::path src = dir / name;
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
      << "\nspec:\n  runtime: exec\n  command: " << command << "\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  auto bundle = builder::MakeBundle(fn);
  REQUIRE(bundle.ok());
  Reply put = gantryd.Call("PUT", FunctionPath(fn), *bundle, {"Content-Type: application/x-tar"});
  INFO(put.body);
  REQUIRE(put.status == 201);
  return fn;
}

TEST_CASE("records: sync and async calls are listed, filtered, found by id, kept over a restart",
          "[integration][records]") {
  TestEngine engine;
  StateDir state(engine);
  auto process = std::make_unique<Gantryd>(engine, state.path());
  Gantryd& gantryd = *process;
  INFO(gantryd.Log());
  const std::string ns = engine.value();
  Deploy(gantryd, engine, state.path(), "ok", "[\"cat\"]");
  Deploy(gantryd, engine, state.path(), "bad", "[\"sh\", \"-c\", \"cat >/dev/null; exit 3\"]");
  const std::string base = "/apis/gantry/v1/namespaces/" + ns;

  Reply first = gantryd.Call("POST", "/function/ok." + ns, "hello", {}, /*auth=*/false);
  REQUIRE(first.status == 200);
  const std::string sync_id = first.headers["x-call-id"];
  REQUIRE_FALSE(sync_id.empty());
  REQUIRE(gantryd.Call("POST", "/function/ok." + ns, "again", {}, false).status == 200);
  Reply failed = gantryd.Call("POST", "/function/bad." + ns, "x", {}, false);
  REQUIRE(failed.status == 500);
  const std::string failed_id = failed.headers["x-call-id"];

  Reply accepted =
      gantryd.Call("POST", "/async-function/ok." + ns, "later", {"X-Call-Id: rec-async-1"}, false);
  REQUIRE(accepted.status == 202);
  json async = PollJson(gantryd, base + "/invocations/rec-async-1",
                        [](const json& j) { return j.value("state", "") == "succeeded"; });
  INFO(async.dump());
  CHECK(async["state"] == "succeeded");
  CHECK(async["trigger"] == "async");
  CHECK(async["function"] == "ok");
  CHECK(async["attempts"] == 1);
  CHECK(async["result"]["status"] == 200);
  CHECK(async["result"]["body"] == "later");
  CHECK(async["result"]["truncated"] == false);

  // Everything of ok: two sync calls and the async one (the gateway's records come in
  // batches, ~100 ms apart).
  json list = PollJson(gantryd, base + "/functions/ok/invocations", [](const json& j) {
    return j["items"].size() == 3 && !j["items"][0].value("replica", "").empty();
  });
  INFO(list.dump());
  REQUIRE(list["items"].size() == 3);
  CHECK(list["items"][0]["callId"] == "rec-async-1");  // newest first
  CHECK(list["items"][0]["replica"].get<std::string>().size() == 12);
  CHECK(list["items"][2]["callId"] == sync_id);
  const json& sync = list["items"][2];
  CHECK(sync["trigger"] == "http");
  CHECK(sync["status"] == 200);
  CHECK(sync["requestBytes"] == 5);
  CHECK(sync["responseBytes"] == 5);
  CHECK(sync["generation"] == 1);
  CHECK(sync["replica"].get<std::string>().size() == 12);
  CHECK(sync["durationMs"].get<double>() > 0);

  CHECK(gantryd.Call("GET", base + "/functions/ok/invocations?status=failed")
            .Json()["items"]
            .empty());
  json bad = PollJson(gantryd, base + "/functions/bad/invocations?status=failed",
                      [](const json& j) { return j["items"].size() == 1; });
  REQUIRE(bad["items"].size() == 1);
  CHECK(bad["items"][0]["callId"] == failed_id);
  CHECK(bad["items"][0]["status"] == 500);
  CHECK(gantryd.Call("GET", base + "/functions/ok/invocations?limit=0").status == 400);
  CHECK(gantryd.Call("GET", base + "/invocations/no-such-call").status == 404);

  int code = 0;
  std::string table = Cli(gantryd, "get invocations bad -n " + ns + " --failed", code);
  INFO(table);
  CHECK(code == 0);
  CHECK_THAT(table, Catch::StartsWith("CALL ID"));
  CHECK_THAT(table, Catch::Contains(failed_id));
  CHECK_THAT(table, Catch::Contains("500"));
  std::string described = Cli(gantryd, "describe invocation rec-async-1 -n " + ns, code);
  INFO(described);
  CHECK(code == 0);
  CHECK_THAT(described, Catch::Contains("State:          succeeded"));
  CHECK_THAT(described, Catch::Contains("    later"));

  // A restart keeps them.
  REQUIRE(process->Stop(SIGTERM) == 0);
  process.reset();
  Gantryd again(engine, state.path());
  INFO(again.Log());
  CHECK(again.Call("GET", base + "/invocations/" + failed_id).Json().value("status", 0) == 500);
  CHECK(again.Call("GET", base + "/functions/ok/invocations").Json()["items"].size() == 3);
}

TEST_CASE("records: --no-records keeps no sync records, async calls keep theirs",
          "[integration][records]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path(), {"--no-records"});
  INFO(gantryd.Log());
  const std::string ns = engine.value();
  Deploy(gantryd, engine, state.path(), "ok", "[\"cat\"]");
  REQUIRE(gantryd.Call("POST", "/function/ok." + ns, "hello", {}, false).status == 200);
  REQUIRE(
      gantryd.Call("POST", "/async-function/ok." + ns, "x", {"X-Call-Id: norec-1"}, false).status ==
      202);
  const std::string base = "/apis/gantry/v1/namespaces/" + ns;
  json async = PollJson(gantryd, base + "/invocations/norec-1",
                        [](const json& j) { return j.value("state", "") == "succeeded"; });
  CHECK(async["state"] == "succeeded");
  std::this_thread::sleep_for(300ms);  // longer than a recorder's flush would take
  CHECK(gantryd.Call("GET", base + "/functions/ok/invocations").Json()["items"].size() == 1);
}

}  // namespace
}  // namespace gantry::testing
