// Paused replicas (scale.pauseAfter) against an in-memory engine (FakeDockerClient, which
// models pause as the engine does), a hand-driven clock and a readiness gate: pausing an
// idle replica, the call that unpauses it, failures, the health check and sweep, retiring
// a paused replica, and adopting a paused container after a restart.
#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <set>

#include "pool/container_spec.h"
#include "pool/control_loop.h"
#include "pool/function_table.h"
#include "pool/replica_lifecycle.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

FunctionStatus MustDescribe(Pool& pool, const std::string& name = "echo") {
  auto s = pool.Describe("default", name);
  REQUIRE(s.ok());
  return *s;
}

// Echo with one replica kept (scale.min 1), paused after 3 s idle, removed after 10 s.
Deployment Pausing(int64_t generation = 1) {
  Deployment d = Echo(generation);
  d.min_replicas = 1;
  d.pause_after = 3s;
  return d;
}

// Applies `d` with its scale.min replicas ready, lets them idle past pause_after and runs
// the control pass that pauses them.
void ApplyAndPause(Harness& h, const Deployment& d) {
  h.probe.Open();
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  h.clock.Advance(d.pause_after);
  h.pool->Reconcile();
  h.pool->Flush();
  REQUIRE(MustDescribe(*h.pool, d.name).paused == d.min_replicas);
}

bool EnginePaused(const testing::FakeDockerClient& docker, const std::string& id) {
  auto c = docker.Find(id);
  return c && c->paused;
}

TEST_CASE("pause: an idle replica is paused after pause_after, not before, and still counts",
          "[pool][pause]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Pausing()).ok());
  h.pool->Flush();
  const std::string id = MustDescribe(*h.pool).replicas.at(0).id;

  h.clock.Advance(2s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 0);
  CHECK(MustDescribe(*h.pool).paused == 0);

  h.clock.Advance(1s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 1);
  CHECK(EnginePaused(h.docker, id));
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);  // a live replica: scale.min is met, status READY
  CHECK(s.paused == 1);
  REQUIRE(s.replicas.size() == 1);
  CHECK(s.replicas[0].state == "paused");

  // Paused once, and nothing started to make up for it.
  h.clock.Advance(2s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 1);
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
}

TEST_CASE("pause: without pauseAfter a replica is never paused", "[pool][pause]") {
  Harness h;
  Deployment d = Pausing();
  d.pause_after = 0ms;
  h.probe.Open();
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  for (int i = 0; i < 5; ++i) {
    h.clock.Advance(3s);
    h.pool->Reconcile();
    h.pool->Flush();
  }
  CHECK(h.docker.CountCalls("PauseContainer") == 0);
  CHECK(MustDescribe(*h.pool).replicas.at(0).state == "ready");
}

TEST_CASE("pause: a busy replica is not paused, its idle time counts from its last call",
          "[pool][pause]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Pausing()).ok());
  h.pool->Flush();
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  h.clock.Advance(5s);  // a long call
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 0);
  { Lease drop = std::move(*a->Wait()); }
  h.clock.Advance(2s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 0);
  h.clock.Advance(1s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 1);
}

TEST_CASE("pause: the next call unpauses the replica and is served by it as kUnpaused",
          "[pool][pause]") {
  Harness h;
  ApplyAndPause(h, Pausing());
  const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
  const int probes = h.probe.probes();

  auto a = h.Acquire();
  h.pool->Flush();
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  CHECK(lease->replica_id() == id);
  CHECK(lease->start_path() == StartPath::kUnpaused);
  CHECK(StartPathName(lease->start_path()) == "unpaused");
  CHECK_FALSE(lease->cold_start());  // X-Cold-Start stays false
  CHECK(h.docker.CountCalls("UnpauseContainer") == 1);
  CHECK_FALSE(EnginePaused(h.docker, id));
  CHECK(h.probe.probes() == probes);                   // no readiness probe: the shim was ready
  CHECK(h.docker.CountCalls("CreateContainer") == 1);  // no new container either
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.paused == 0);
  CHECK(s.replicas.at(0).state == "ready");

  // The call after it is warm again, answered on the calling thread.
  { Lease drop = std::move(*lease); }
  auto b = h.Acquire();
  REQUIRE(b->done());
  REQUIRE(b->Wait().ok());
  CHECK(b->Wait()->start_path() == StartPath::kWarm);
  CHECK(h.docker.CountCalls("UnpauseContainer") == 1);
}

TEST_CASE("pause: several calls arriving at a paused replica share one unpause", "[pool][pause]") {
  Harness h;
  ApplyAndPause(h, Pausing());  // concurrency 4
  std::vector<std::shared_ptr<Acquired>> calls;
  // All three arrive while the unpause is in progress (else a later one may find the
  // replica running already and be served warm).
  h.docker.Hold("UnpauseContainer");
  for (int i = 0; i < 3; ++i) calls.push_back(h.Acquire());
  h.docker.Release("UnpauseContainer");
  h.pool->Flush();
  std::set<std::string> replicas;
  for (const auto& c : calls) {
    auto& lease = c->Wait();
    REQUIRE(lease.ok());
    CHECK(lease->start_path() == StartPath::kUnpaused);
    replicas.insert(lease->replica_id());
  }
  CHECK(replicas.size() == 1);
  CHECK(h.docker.CountCalls("UnpauseContainer") == 1);
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
}

TEST_CASE("pause: an unpause with no call attached (a prewarm) makes the replica warm",
          "[pool][pause]") {
  // Through the lifecycle, as the keep-alive policy does it.
  testing::FakeDockerClient docker;
  core::ManualClock clock;
  GateProbe probe;
  probe.Open();
  PoolOptions options = UnitPoolOptions(clock, probe, /*watch_events=*/false);
  auto lifecycle = std::make_shared<ReplicaLifecycle>(docker, options);
  FunctionTable functions;
  ControlLoop control(functions, *lifecycle);
  Deployment d = Pausing();
  auto fn = functions.Insert(std::make_shared<FunctionReplicas>("default/echo", d));
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    REQUIRE(lifecycle->StartReplicaLocked(*fn) != nullptr);
  }
  lifecycle->Flush();
  clock.Advance(3s);
  control.Reconcile();
  lifecycle->Flush();
  std::shared_ptr<Replica> replica;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    REQUIRE(fn->replicas.size() == 1);
    replica = fn->replicas.begin()->second;
    REQUIRE(replica->pause == PauseState::kPaused);
    lifecycle->UnpauseLocked(*fn, replica);
    lifecycle->UnpauseLocked(*fn, replica);  // already unpausing: nothing more
  }
  lifecycle->Flush();
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    CHECK(replica->pause == PauseState::kRunning);
    CHECK(replica->state == ReplicaState::kReady);
  }
  CHECK(docker.CountCalls("UnpauseContainer") == 1);
  // Idle again from the unpause: paused again only pause_after later.
  clock.Advance(2s);
  control.Reconcile();
  lifecycle->Flush();
  CHECK(docker.CountCalls("PauseContainer") == 1);
  clock.Advance(1s);
  control.Reconcile();
  lifecycle->Flush();
  CHECK(docker.CountCalls("PauseContainer") == 2);
  lifecycle->BeginStop();
  lifecycle->ShutdownTasks();
  std::error_code ignored;
  std::filesystem::remove_all(options.run_dir, ignored);
}

TEST_CASE("pause: a failed unpause makes the replica dead, the call waits for its replacement",
          "[pool][pause]") {
  Harness h;
  ApplyAndPause(h, Pausing());
  const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
  h.docker.FailCalls("UnpauseContainer", core::Error::Internal("cannot thaw the cgroup"));

  auto a = h.Acquire();
  h.pool->Flush();
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  CHECK(lease->replica_id() != id);
  CHECK(lease->cold_start());
  CHECK(lease->start_path() == StartPath::kContainer);
  CHECK_FALSE(h.docker.Find(id).has_value());  // removed (paused as it was)
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);
  CHECK(s.paused == 0);
  CHECK_THAT(s.last_error, Catch::Contains("unpause failed") && Catch::Contains("thaw"));
}

TEST_CASE("pause: a failed pause leaves the replica serving, tried again pause_after later",
          "[pool][pause]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Pausing()).ok());
  h.pool->Flush();
  h.docker.FailCalls("PauseContainer", core::Error::Conflict("container is restarting"));
  h.clock.Advance(3s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 1);
  CHECK(MustDescribe(*h.pool).paused == 0);
  auto a = h.Acquire();
  REQUIRE(a->done());  // warm
  REQUIRE(a->Wait().ok());
  CHECK(a->Wait()->start_path() == StartPath::kWarm);
  { Lease drop = std::move(*a->Wait()); }

  h.docker.ClearFailure("PauseContainer");
  h.clock.Advance(1s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 1);  // not at every pass
  h.clock.Advance(2s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("PauseContainer") == 2);
  CHECK(MustDescribe(*h.pool).paused == 1);
}

// Ready at once, except for the sockets of paused containers: a paused shim answers
// nothing. Counts the probes per socket.
class PausedSilentProbe final : public ReadinessProbe {
 public:
  explicit PausedSilentProbe(const testing::FakeDockerClient& docker) : docker_(docker) {}
  core::Status WaitReady(const Endpoint& endpoint, std::chrono::milliseconds,
                         const std::function<bool()>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++probes_[endpoint.unix_socket];
    if (socket_key_.empty() || endpoint.unix_socket.find(socket_key_) == std::string::npos) {
      return core::Ok();
    }
    for (const auto& [id, c] : docker_.containers()) {
      auto key = c.spec.labels.find(kReplicaLabel);
      if (c.paused && key != c.spec.labels.end() && key->second == socket_key_) {
        return core::Error::Timeout("shim.sock did not answer");
      }
    }
    return core::Ok();
  }
  // The replica key whose socket goes silent while its container is paused.
  void Watch(const std::string& replica_key) {
    std::lock_guard<std::mutex> lock(mu_);
    socket_key_ = replica_key;
  }
  int probes(const std::string& socket) {
    std::lock_guard<std::mutex> lock(mu_);
    return probes_[socket];
  }

 private:
  const testing::FakeDockerClient& docker_;
  std::mutex mu_;
  std::string socket_key_;
  std::map<std::string, int> probes_;
};

TEST_CASE("pause: the health check and the sweep leave a paused replica alone", "[pool][pause]") {
  testing::FakeDockerClient docker;
  core::ManualClock clock;
  PausedSilentProbe probe(docker);
  PoolOptions options = UnitPoolOptions(clock, probe, /*watch_events=*/false);
  auto lifecycle = std::make_shared<ReplicaLifecycle>(docker, options);
  FunctionTable functions;
  ControlLoop control(functions, *lifecycle);
  Deployment d = Pausing();
  auto fn = functions.Insert(std::make_shared<FunctionReplicas>("default/echo", d));
  std::shared_ptr<Replica> replica;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    replica = lifecycle->StartReplicaLocked(*fn);
    REQUIRE(replica != nullptr);
  }
  lifecycle->Flush();
  probe.Watch(replica->key);
  clock.Advance(3s);
  control.Reconcile();
  lifecycle->Flush();
  std::string socket, id;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    REQUIRE(replica->pause == PauseState::kPaused);
    socket = replica->endpoint.unix_socket;
    id = replica->id;
  }
  REQUIRE(EnginePaused(docker, id));
  const int probes = probe.probes(socket);
  for (int i = 0; i < ControlLoop::kHealthStrikes + 1; ++i) control.HealthCheck();
  clock.Advance(1s);
  control.Sweep();  // the engine lists a paused container as one that runs
  lifecycle->Flush();
  CHECK(probe.probes(socket) == probes);  // not probed at all
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    CHECK(replica->state == ReplicaState::kReady);
    CHECK(replica->pause == PauseState::kPaused);
    CHECK(fn->replicas.size() == 1);
  }
  CHECK(docker.CountCalls("CreateContainer") == 1);
  lifecycle->BeginStop();
  lifecycle->ShutdownTasks();
  std::error_code ignored;
  std::filesystem::remove_all(options.run_dir, ignored);
}

TEST_CASE("pause: the engine's pause and unpause events are not deaths", "[pool][pause]") {
  Harness h(/*watch_events=*/true);
  h.probe.Open();
  REQUIRE(h.pool->Start({Pausing()}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  h.pool->Flush();
  h.clock.Advance(3s);
  h.pool->Reconcile();
  h.pool->Flush();
  const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
  docker::Labels labels = h.docker.Find(id)->spec.labels;
  for (const char* action : {"pause", "unpause", "kill", "stop"}) {
    h.docker.Emit({.type = "container", .action = action, .id = id, .attributes = labels});
  }
  h.pool->Flush();
  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.replicas.size() == 1);
  CHECK(s.replicas[0].id == id);
  CHECK(s.replicas[0].state == "paused");
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
}

TEST_CASE("pause: a paused replica is retired like a running one", "[pool][pause]") {
  Harness h;
  SECTION("idle past idle_timeout") {
    Deployment d = Pausing();
    d.min_replicas = 0;
    h.probe.Open();
    REQUIRE(h.pool->Apply(d).ok());
    auto a = h.Acquire();
    REQUIRE(a->Wait().ok());
    { Lease drop = std::move(*a->Wait()); }
    h.pool->Flush();
    h.clock.Advance(3s);
    h.pool->Reconcile();
    h.pool->Flush();
    FunctionStatus s = MustDescribe(*h.pool);
    REQUIRE(s.paused == 1);
    const std::string id = s.replicas.at(0).id;
    h.clock.Advance(8s);  // 11 s after its call: idleTimeout (10 s) counts from the call
    h.pool->Reconcile();
    h.pool->Flush();
    CHECK(MustDescribe(*h.pool).replicas.empty());
    CHECK_FALSE(h.docker.Find(id).has_value());
    CHECK(h.docker.CountCalls("StopContainer") == 1);  // the engine stops a paused one
  }
  SECTION("the function is removed") {
    ApplyAndPause(h, Pausing());
    const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
    REQUIRE(h.pool->Remove("default", "echo").ok());
    CHECK_FALSE(h.docker.Find(id).has_value());
    CHECK(h.docker.containers().empty());
  }
  SECTION("a new generation is ready") {
    ApplyAndPause(h, Pausing(1));
    const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
    REQUIRE(h.pool->Apply(Pausing(2)).ok());
    h.pool->Flush();
    CHECK_FALSE(h.docker.Find(id).has_value());
    FunctionStatus s = MustDescribe(*h.pool);
    REQUIRE(s.replicas.size() == 1);
    CHECK(s.replicas[0].generation == 2);
    CHECK(s.replicas[0].state == "ready");
  }
  SECTION("scaled down") {
    Deployment d = Pausing();
    d.min_replicas = 0;
    h.probe.Open();
    REQUIRE(h.pool->Apply(d).ok());
    REQUIRE(h.pool->Scale("default", "echo", 2).ok());
    h.pool->Flush();
    h.clock.Advance(3s);
    h.pool->Reconcile();
    h.pool->Flush();
    REQUIRE(MustDescribe(*h.pool).paused == 2);
    REQUIRE(h.pool->Scale("default", "echo", 1).ok());
    h.pool->Flush();
    FunctionStatus s = MustDescribe(*h.pool);
    CHECK(s.replicas.size() == 1);
    CHECK(h.docker.containers().size() == 1);
  }
  CHECK(h.docker.CountCalls("UnpauseContainer") == 0);  // none needed to retire
}

TEST_CASE("pause: Stop leaves a paused replica paused", "[pool][pause]") {
  Harness h;
  ApplyAndPause(h, Pausing());
  const std::string id = MustDescribe(*h.pool).replicas.at(0).id;
  h.pool->Stop();
  CHECK(EnginePaused(h.docker, id));
  CHECK(h.docker.CountCalls("StopContainer") == 0);
}

TEST_CASE("pause: Start unpauses a paused current container, probes and adopts it",
          "[pool][pause]") {
  Harness h;
  Deployment d = Pausing(3);
  auto labelled = [&](int64_t generation, const std::string& replica) {
    Deployment g = Pausing(generation);
    docker::ContainerSpec spec;
    spec.name = ContainerName(g, replica);
    spec.labels = ReplicaLabels(g, replica, h.options.extra_labels);
    spec.network_mode = "bridge";  // where this pool (no instance id, no network) puts replicas
    std::string id = h.docker.AddRunning(spec);
    REQUIRE(h.docker.PauseContainer(id).ok());
    return id;
  };
  std::string current = labelled(3, "r00000000aa");
  std::string older = labelled(2, "r00000000bb");
  bool unpause_fails = false;
  SECTION("adopted") {}
  SECTION("one that cannot be unpaused is removed") {
    unpause_fails = true;
    h.docker.FailCalls("UnpauseContainer", core::Error::Internal("frozen for good"));
  }

  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  h.pool->Flush();
  CHECK_FALSE(h.docker.Find(older).has_value());  // an old generation's: removed, paused or not
  FunctionStatus s = MustDescribe(*h.pool);
  if (!unpause_fails) {
    CHECK_FALSE(EnginePaused(h.docker, current));
    REQUIRE(s.replicas.size() == 1);
    CHECK(s.replicas[0].id == current);
    CHECK(s.replicas[0].state == "ready");
    CHECK(h.docker.CountCalls("CreateContainer") == 0);
    auto a = h.Acquire();
    REQUIRE(a->done());
    REQUIRE(a->Wait().ok());
    CHECK(a->Wait()->start_path() == StartPath::kWarm);
  } else {
    // Removed, and scale.min brings a new one.
    CHECK_FALSE(h.docker.Find(current).has_value());
    CHECK(h.docker.CountCalls("CreateContainer") == 1);
    CHECK(s.ready == 1);
  }
  CHECK(h.docker.CountCalls("UnpauseContainer") == 1);  // only the current one's
}

}  // namespace
}  // namespace gantry::pool
