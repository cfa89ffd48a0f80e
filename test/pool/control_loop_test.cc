// The control loop's passes that the Pool facade does not expose (Pool::Reconcile runs
// only Reconcile): health checks and the sweep, on the pool's parts wired by hand over an
// in-memory engine (FakeDockerClient), a hand-driven clock and a probe the test steers.
#include "pool/control_loop.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <set>

#include "pool/function_table.h"
#include "pool/replica_lifecycle.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

// Ready at once, except for the endpoints the test marks as not answering.
class SteeredProbe final : public ReadinessProbe {
 public:
  core::Status WaitReady(const Endpoint& endpoint, std::chrono::milliseconds,
                         const std::function<bool()>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (silent_.count(endpoint.unix_socket) > 0) {
      return core::Error::Timeout("shim.sock did not answer");
    }
    return core::Ok();
  }
  void Silence(const std::string& socket, bool silent) {
    std::lock_guard<std::mutex> lock(mu_);
    if (silent) {
      silent_.insert(socket);
    } else {
      silent_.erase(socket);
    }
  }

 private:
  std::mutex mu_;
  std::set<std::string> silent_;
};

// The lifecycle, function table and control loop of one pool, with no threads of their
// own but the lifecycle's tasks.
struct Parts {
  Parts() {
    options = UnitPoolOptions(clock, probe, /*watch_events=*/false);
    run_dir = options.run_dir;
    lifecycle = std::make_shared<ReplicaLifecycle>(docker, options);
    control = std::make_unique<ControlLoop>(functions, *lifecycle);
  }
  ~Parts() {
    lifecycle->BeginStop();
    control.reset();
    lifecycle->ShutdownTasks();
    std::error_code ignored;
    std::filesystem::remove_all(run_dir, ignored);
  }

  // A function with `ready` replicas started and ready.
  std::shared_ptr<FunctionReplicas> AddFunction(const Deployment& d, int ready) {
    auto fn =
        functions.Insert(std::make_shared<FunctionReplicas>(d.namespace_name + "/" + d.name, d));
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      for (int i = 0; i < ready; ++i) REQUIRE(lifecycle->StartReplicaLocked(*fn) != nullptr);
    }
    lifecycle->Flush();
    return fn;
  }

  // The function's replicas in `state` (pointers valid while the test holds `fn`).
  std::vector<Replica*> InState(FunctionReplicas& fn, ReplicaState state) {
    std::lock_guard<std::mutex> lock(fn.mu);
    std::vector<Replica*> out;
    for (const auto& [k, r] : fn.replicas) {
      if (r->state == state) out.push_back(r.get());
    }
    return out;
  }

  std::string LastError(FunctionReplicas& fn) {
    std::lock_guard<std::mutex> lock(fn.mu);
    return fn.last_error;
  }

  testing::FakeDockerClient docker;
  core::ManualClock clock;
  SteeredProbe probe;
  std::string run_dir;
  PoolOptions options;
  std::shared_ptr<ReplicaLifecycle> lifecycle;
  FunctionTable functions;
  std::unique_ptr<ControlLoop> control;
};

TEST_CASE("control loop: a ready replica failing its health checks in a row is replaced",
          "[pool]") {
  Parts p;
  Deployment d = Echo();
  d.min_replicas = 1;
  auto fn = p.AddFunction(d, 1);
  auto ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  const std::string old_id = ready[0]->id;
  const std::string old_socket = ready[0]->endpoint.unix_socket;
  REQUIRE_FALSE(old_socket.empty());

  // One failed check is not enough, and a good one in between starts the count again.
  p.probe.Silence(old_socket, true);
  p.control->HealthCheck();
  p.probe.Silence(old_socket, false);
  p.control->HealthCheck();
  p.probe.Silence(old_socket, true);
  p.control->HealthCheck();
  p.lifecycle->Flush();
  ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0]->id == old_id);
  CHECK(p.docker.Find(old_id).has_value());

  // The second failure in a row: dead, removed, and a replacement (whose probe answers)
  // takes its place.
  p.control->HealthCheck();
  p.lifecycle->Flush();
  ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0]->id != old_id);
  CHECK_FALSE(p.docker.Find(old_id).has_value());
  CHECK_THAT(p.LastError(*fn),
             Catch::Contains("health check failed") && Catch::Contains("did not answer"));
  CHECK(p.docker.CountCalls("CreateContainer") == 2);
}

TEST_CASE("control loop: images serving HTTP themselves are not health-checked", "[pool]") {
  Parts p;
  Deployment d = Echo();
  d.min_replicas = 1;
  d.http_port = 8080;
  auto fn = p.AddFunction(d, 1);
  auto ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  const std::string id = ready[0]->id;
  p.probe.Silence("", true);  // their endpoint has no socket
  for (int i = 0; i < ControlLoop::kHealthStrikes + 1; ++i) p.control->HealthCheck();
  p.lifecycle->Flush();
  ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0]->id == id);
}

TEST_CASE("control loop: the sweep replaces a ready replica whose container stopped unseen",
          "[pool]") {
  Parts p;
  Deployment d = Echo();
  d.min_replicas = 2;
  auto fn = p.AddFunction(d, 2);
  auto ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 2);
  const std::string lost = ready[0]->id, kept = ready[1]->id;

  p.docker.Die(lost);  // nobody follows events: only the engine's list tells
  p.clock.Advance(1s);

  // The engine's list failing proves nothing: no replica is marked.
  p.docker.FailCalls("ListContainers", core::Error::Unavailable("engine busy"));
  p.control->Sweep();
  CHECK(p.InState(*fn, ReplicaState::kReady).size() == 2);

  p.docker.ClearFailure("ListContainers");
  p.control->Sweep();
  p.lifecycle->Flush();
  ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 2);
  std::set<std::string> ids{ready[0]->id, ready[1]->id};
  CHECK(ids.count(kept) == 1);
  CHECK(ids.count(lost) == 0);
  CHECK_FALSE(p.docker.Find(lost).has_value());
  CHECK_THAT(p.LastError(*fn), Catch::Contains("container is not running"));
}

TEST_CASE("control loop: the sweep leaves a replica that got ready after the engine's list",
          "[pool]") {
  Parts p;
  Deployment d = Echo();
  d.min_replicas = 1;
  auto fn = p.AddFunction(d, 1);
  auto ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  const std::string id = ready[0]->id;
  p.docker.Die(id);
  // Same instant as its ready_at: the list may predate it, so the sweep does not judge it.
  p.control->Sweep();
  ready = p.InState(*fn, ReplicaState::kReady);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0]->id == id);
}

}  // namespace
}  // namespace gantry::pool
