// PoolEvents as a function's Events, and the writer that puts them in the store off the
// pool's threads.
#include "daemon/function_events.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using Kind = pool::PoolEvent::Kind;

pool::PoolEvent Event(Kind kind) {
  pool::PoolEvent e;
  e.kind = kind;
  e.namespace_name = "default";
  e.name = "hello";
  e.generation = 2;
  e.replica = "0123456789abcdef0123";
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  return e;
}

TEST_CASE("function events: what each pool event becomes", "[events]") {
  auto started = EventFromPool(Event(Kind::kReplicaStarting));
  CHECK(started.reason == "Started");
  CHECK(started.type == "Normal");
  CHECK(started.replica == "0123456789ab");
  CHECK(started.time_unix_ms == 1'700'000'000'123);
  CHECK(started.message == "started replica (generation 2)");
  CHECK(EventFromPool(Event(Kind::kReplicaReady)).reason == "Ready");

  auto died = Event(Kind::kReplicaDied);
  died.exit_code = 1;
  died.before_ready = true;
  died.reason = "handler import failed: ModuleNotFoundError: No module named 'requests'";
  auto d = EventFromPool(died);
  CHECK(d.type == "Warning");
  CHECK(d.reason == "Died");
  CHECK(d.message ==
        "before ready: handler import failed: ModuleNotFoundError: No module named 'requests' "
        "(exit code 1)");

  auto oom = Event(Kind::kReplicaDied);
  oom.oom = true;
  oom.exit_code = 137;
  oom.reason = "out of memory (128Mi)";
  CHECK(EventFromPool(oom).reason == "OOMKilled");
  CHECK(EventFromPool(oom).message == "out of memory (128Mi) (exit code 137)");

  auto removed = Event(Kind::kReplicaRemoved);
  removed.reason = "idle";
  CHECK(EventFromPool(removed).message == "replica removed: idle");

  auto failed = Event(Kind::kStartFailed);
  failed.replica.clear();
  failed.reason = "no such image";
  CHECK(EventFromPool(failed).type == "Warning");
  CHECK(EventFromPool(failed).reason == "StartFailed");
  CHECK(EventFromPool(failed).replica.empty());

  auto scaled = Event(Kind::kScaled);
  scaled.from = 0;
  scaled.to = 2;
  scaled.reason = "manual";
  CHECK(EventFromPool(scaled).message == "scaled from 0 to 2 replicas (manual)");
}

TEST_CASE("function events: written to the store in order, off the caller's thread", "[events]") {
  fs::path dir = fs::temp_directory_path() / ("gantry-fn-events-" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    auto store = store::Store::Open((dir / "gantry.db").string());
    REQUIRE(store.ok());
    store::FunctionRecord f{.namespace_name = "default",
                            .name = "hello",
                            .spec_json = "{}",
                            .hash = "sha256:h",
                            .image = "img",
                            .status = "ready"};
    REQUIRE((*store)->PutFunction(f).ok());
    FunctionEvents events(**store);
    auto sink = events.Sink();
    sink(Event(Kind::kReplicaStarting));
    sink(Event(Kind::kReplicaReady));
    events.Add(ControllerEvent("default", "hello", "Normal", "Built", "built image img"));
    events.Flush();
    auto listed = (*store)->ListEvents("default", "hello", 0);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 3);
    CHECK((*listed)[0].reason == "Started");
    CHECK((*listed)[2].reason == "Built");
    events.Stop();
    events.Add(ControllerEvent("default", "hello", "Normal", "Built", "late"));
    CHECK(events.dropped() == 1);
  }
  fs::remove_all(dir);
}

TEST_CASE("function events: a full queue drops and counts, never blocks", "[events]") {
  fs::path dir = fs::temp_directory_path() / ("gantry-fn-events-q-" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    auto store = store::Store::Open((dir / "gantry.db").string());
    REQUIRE(store.ok());
    FunctionEvents events(**store, /*max_queue=*/0);
    events.OnPoolEvent(Event(Kind::kReplicaReady));
    CHECK(events.dropped() == 1);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gantry::daemon
