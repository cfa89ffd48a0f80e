// A function's status end to end over an in-memory engine: the phase and Events Describe
// answers, and the wait route that proves a replica runs (pool events → FunctionEvents →
// store → Controller::Describe).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "controller_harness.h"
#include "daemon/function_events.h"
#include "daemon/resource_wait.h"
#include "pool/pool_test_support.h"

namespace gantry::daemon::testing {
namespace {

using nlohmann::json;

// The controller over LoggingDocker (every container "prints" docker.text), a pool whose
// readiness the test decides (GateProbe) and events written to the store.
struct StatusHarness {
  StatusHarness() {
    char dir[] = "/tmp/gantry-status-unit.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    state_dir = dir;
    auto opened = store::Store::Open(state_dir + "/gantry.db");
    REQUIRE(opened.ok());
    store = std::move(*opened);
    events = std::make_unique<FunctionEvents>(*store);
    builder = std::make_unique<builder::Builder>(
        docker, builder::BuilderOptions{.instance_id = "aaaa1111"});
    pool::PoolOptions po = pool::UnitPoolOptions(clock, probe, /*watch_events=*/false);
    run_dir = po.run_dir;
    po.instance_id = "aaaa1111";
    po.on_event = events->Sink();
    pool = std::make_unique<pool::Pool>(docker, po);
    controller =
        std::make_unique<Controller>(*store, *builder, *pool, docker,
                                     ControllerOptions{.state_dir = state_dir,
                                                       .identity = {"gantry.instance=aaaa1111"},
                                                       .events = events.get()});
    REQUIRE(controller->Start().ok());
  }
  ~StatusHarness() {
    controller.reset();
    pool.reset();
    events.reset();
    std::error_code ignored;
    std::filesystem::remove_all(state_dir, ignored);
    std::filesystem::remove_all(run_dir, ignored);
  }

  core::Result<gateway::ApiResponse> Wait(const std::string& name = "web") {
    gateway::ApiRequest r;
    r.method = "POST";
    r.params = {{"ns", "team"}, {"name", name}};
    r.query = {{"timeout", "5s"}};
    return resource::WaitFunction(*controller, r);
  }
  json Status() {
    pool->Flush();
    events->Flush();
    auto d = controller->Describe("team", "web");
    REQUIRE(d.ok());
    return (*d)["status"];
  }
  // The reasons of status.events, in order.
  std::vector<std::string> EventReasons() {
    std::vector<std::string> out;
    json st = Status();
    UNSCOPED_INFO(st.dump());
    for (const auto& e : st["events"]) out.push_back(e["reason"]);
    return out;
  }

  core::ManualClock clock;  // the pool's
  pool::GateProbe probe;
  LoggingDocker docker;
  std::string state_dir;
  std::string run_dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<FunctionEvents> events;
  std::unique_ptr<builder::Builder> builder;
  std::unique_ptr<pool::Pool> pool;
  std::unique_ptr<Controller> controller;
};

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("status: scale.min 0 after an apply is ScaledToZero, wait starts one and is Ready",
          "[daemon][status]") {
  StatusHarness h;
  h.probe.Open();
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  json st = h.Status();
  CHECK(st["phase"] == "ScaledToZero");
  CHECK(st["readyReplicas"] == 0);
  CHECK(st["desiredReplicas"] == 0);
  auto reasons = h.EventReasons();
  CHECK(Has(reasons, "Built"));
  CHECK(Has(reasons, "RolledOut"));

  auto waited = h.Wait();
  REQUIRE(waited.ok());
  CHECK(waited->status == 200);
  json body = json::parse(waited->body);
  CHECK(body["phase"] == "Ready");
  CHECK(body["coldStart"] == true);
  st = h.Status();
  CHECK(st["phase"] == "Ready");
  CHECK(st["readyReplicas"] == 1);
  CHECK(st["currentReplicas"] == 1);
  CHECK(st["desiredReplicas"] == 1);
  reasons = h.EventReasons();
  CHECK(Has(reasons, "Started"));
  CHECK(Has(reasons, "Ready"));
  // Ready already: answered at once.
  auto again = h.Wait();
  REQUIRE(again.ok());
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["coldStart"] == false);
}

TEST_CASE(
    "status: a replica that never gets ready fails wait with the reason and last lines, "
    "the function is CrashLoop",
    "[daemon][status]") {
  StatusHarness h;
  h.docker.lines_per_container = 3;
  h.docker.text = "ModuleNotFoundError: No module named 'requests'";
  h.probe.FailWith(core::Error::Unavailable("the replica exited before it was ready"));
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  auto waited = h.Wait();
  REQUIRE(waited.ok());
  CHECK(waited->status == 503);
  json body = json::parse(waited->body);
  CHECK_THAT(body["error"].get<std::string>(), Catch::Contains("No module named 'requests'"));
  CHECK(body["phase"] == "CrashLoop");
  REQUIRE(body["lastLines"].size() == 3);
  CHECK(body["lastLines"][2] == "ModuleNotFoundError: No module named 'requests'");
  CHECK_FALSE(body["error"].get<std::string>().find("/tmp/") != std::string::npos);

  json st = h.Status();
  CHECK(st["phase"] == "CrashLoop");
  CHECK_THAT(st["reason"].get<std::string>(), Catch::Contains("No module named 'requests'"));
  CHECK(st["nextRetry"].is_string());
  CHECK(st["failuresInARow"] == 1);
  bool died = false;
  for (const auto& e : st["events"]) {
    if (e["reason"] == "Died") {
      died = true;
      CHECK(e["type"] == "Warning");
      CHECK(e["replica"].get<std::string>().size() == 12);
      CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("No module named"));
    }
  }
  CHECK(died);
}

TEST_CASE("status: wait for an unknown function is kNotFound, a bad timeout kInvalidArgument",
          "[daemon][status]") {
  StatusHarness h;
  auto unknown = h.Wait("nope");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == core::ErrorCode::kNotFound);
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  gateway::ApiRequest r;
  r.params = {{"ns", "team"}, {"name", "web"}};
  r.query = {{"timeout", "soon"}};
  auto bad = resource::WaitFunction(*h.controller, r);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == core::ErrorCode::kInvalidArgument);
}

TEST_CASE("status: describe has metadata.creationTimestamp and events go with a delete",
          "[daemon][status]") {
  StatusHarness h;
  h.probe.Open();
  REQUIRE(h.controller->ApplySpec(WebSpec(1, 2), "sha256:web").ok());
  json st = h.Status();
  CHECK(st["phase"] == "Ready");
  auto d = h.controller->Describe("team", "web");
  CHECK((*d)["metadata"]["creationTimestamp"].get<std::string>().size() == 20);
  REQUIRE(h.controller->Delete("team", "web").ok());
  h.events->Flush();
  CHECK(h.store->ListEvents("team", "web", 0)->empty());
}

TEST_CASE("status: an adaptive function's status says the keep-alive in force",
          "[daemon][status]") {
  StatusHarness h;
  h.probe.Open();
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  CHECK_FALSE(h.Status().contains("keepAlive"));  // fixed: nothing to say
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(
      local,
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: web, namespace: team}\n"
      "spec:\n  runtime: image\n  image: example/web:1\n  port: 8080\n"
      "  scale: {min: 0, max: 2, keepAlive: adaptive}\n",
      "web.yaml", "/nonexistent", {});
  REQUIRE(loaded.errors.empty());
  REQUIRE(h.controller
              ->ApplySpec(std::get<spec::FunctionSpec>(loaded.objects.at(0).object), "sha256:web2")
              .ok());
  CHECK(h.Status()["keepAlive"] == "adaptive: fixed 5m (too few samples: 0)");
}

}  // namespace
}  // namespace gantry::daemon::testing
