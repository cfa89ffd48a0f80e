// The pool against an in-memory engine (FakeDockerClient), a hand-driven clock and a
// readiness gate the test opens: leases, shared cold starts, the wait queue, scaling,
// dead replicas, rollouts, adoption and removal.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "pool/container_spec.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using core::ErrorCode;

FunctionStatus MustDescribe(Pool& pool, const std::string& name = "echo") {
  auto s = pool.Describe("default", name);
  REQUIRE(s.ok());
  return *s;
}

// Applies `d`, lets its min replicas get ready, and returns the status.
FunctionStatus ApplyReady(Harness& h, const Deployment& d) {
  h.probe.Open();
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  return MustDescribe(*h.pool, d.name);
}

int ReplicaDirs(const std::string& run_dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(run_dir)) n += e.is_directory() ? 1 : 0;
  return n;
}

TEST_CASE("pool: a warm acquire leases a free slot from memory and gives it back", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  FunctionStatus s = ApplyReady(h, d);
  REQUIRE(s.ready == 1);
  REQUIRE(h.docker.CountCalls("CreateContainer") == 1);
  const size_t calls_before = h.docker.calls().size();

  auto a = h.Acquire();
  REQUIRE(a->done());  // answered on the calling thread
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  CHECK_FALSE(lease->cold_start());
  CHECK(lease->replica_id() == s.replicas.at(0).id);
  CHECK_THAT(lease->endpoint().unix_socket,
             Catch::StartsWith(h.run_dir + "/r") && Catch::EndsWith("/sock/shim.sock"));
  CHECK(MustDescribe(*h.pool).in_flight == 1);

  { Lease drop = std::move(*lease); }
  CHECK(MustDescribe(*h.pool).in_flight == 0);
  CHECK(h.docker.calls().size() == calls_before);  // the warm path never asked the engine
}

TEST_CASE("pool: an unknown function is kNotFound", "[pool]") {
  Harness h;
  auto a = h.Acquire("nope");
  REQUIRE_FALSE(a->Wait().ok());
  CHECK(a->Wait().error().code() == ErrorCode::kNotFound);
  CHECK(h.pool->Describe("default", "nope").error().code() == ErrorCode::kNotFound);
  CHECK(h.pool->Remove("default", "nope").error().code() == ErrorCode::kNotFound);
}

TEST_CASE("pool: concurrent acquires of a cold function share one start", "[pool]") {
  Harness h;
  REQUIRE(h.pool->Apply(Echo()).ok());
  CHECK(h.docker.CountCalls("CreateContainer") == 0);  // scale.min 0: nothing runs yet

  std::vector<std::shared_ptr<Acquired>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(h.Acquire());
  REQUIRE(h.probe.WaitProbes(1));
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.queued == 4);
  CHECK(s.starting == 1);
  for (const auto& c : calls) CHECK_FALSE(c->done());

  h.probe.Open();
  std::set<std::string> replicas;
  for (const auto& c : calls) {
    auto& lease = c->Wait();
    REQUIRE(lease.ok());
    CHECK(lease->cold_start());
    replicas.insert(lease->replica_id());
  }
  CHECK(replicas.size() == 1);
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  CHECK(h.docker.CountCalls("StartContainer") == 1);
  CHECK(MustDescribe(*h.pool).in_flight == 4);
}

TEST_CASE(
    "pool: waiting calls beyond one replica's slots start more replicas, never beyond scale.max",
    "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.concurrency = 1;
  d.max_replicas = 2;
  REQUIRE(h.pool->Apply(d).ok());
  std::vector<std::shared_ptr<Acquired>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(h.Acquire());
  REQUIRE(h.probe.WaitProbes(1));
  CHECK(h.docker.CountCalls("CreateContainer") == 1);  // how long calls take is not known yet
  CHECK(MustDescribe(*h.pool).queued == 4);

  h.probe.Open();
  REQUIRE(calls[0]->Wait().ok());
  h.clock.Advance(1s);  // the call has run longer than a start takes: calls are slow
  h.pool->Reconcile();
  REQUIRE(h.probe.WaitProbes(2));
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
  REQUIRE(calls[1]->Wait().ok());
  h.pool->Flush();
  CHECK_FALSE(calls[2]->done());  // both replicas busy: these wait for a slot
  CHECK_FALSE(calls[3]->done());
  CHECK(h.docker.CountCalls("CreateContainer") == 2);

  std::string freed = calls[0]->Wait()->replica_id();
  { Lease drop = std::move(*calls[0]->Wait()); }
  REQUIRE(calls[2]->Wait().ok());  // handed the freed slot (on the pool's dispatcher thread)
  CHECK(calls[2]->Wait()->replica_id() == freed);
  CHECK_FALSE(calls[2]->Wait()->cold_start());
}

TEST_CASE("pool: 50 calls to a cold function start only the replicas their slots need", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.concurrency = 16;
  d.max_replicas = 4;
  d.max_queue = 100;
  REQUIRE(h.pool->Apply(d).ok());
  std::vector<std::shared_ptr<Acquired>> calls;
  for (int i = 0; i < 50; ++i) calls.push_back(h.Acquire());
  REQUIRE(h.probe.WaitProbes(1));
  CHECK(h.docker.CountCalls("CreateContainer") == 1);  // how long calls take is not known yet
  h.probe.Open();
  for (int i = 0; i < 16; ++i) REQUIRE(calls[static_cast<size_t>(i)]->Wait().ok());
  h.clock.Advance(1s);  // they have run longer than a start takes: calls are slow
  h.pool->Reconcile();
  REQUIRE(h.probe.WaitProbes(4));
  CHECK(h.docker.CountCalls("CreateContainer") == 4);  // ceil(50 / 16)
  std::map<std::string, int> per_replica;
  for (const auto& c : calls) {
    REQUIRE(c->Wait().ok());
    ++per_replica[c->Wait()->replica_id()];
  }
  CHECK(per_replica.size() == 4);
  for (const auto& [id, n] : per_replica) CHECK(n <= 16);
  CHECK(h.docker.CountCalls("CreateContainer") == 4);
}

TEST_CASE("pool: a slot freed by a dropped lease reaches the next call off the dropping thread",
          "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.concurrency = 1;
  d.min_replicas = 1;
  d.max_replicas = 1;
  ApplyReady(h, d);
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  // The next call's callback takes a lock that the code dropping the lease holds, as the
  // gateway's does: handing the slot over on the dropping thread would deadlock.
  auto shared_lock = std::make_shared<std::mutex>();
  auto b = std::make_shared<Acquired>();
  h.pool->Acquire("default", "echo", [shared_lock, inner = b->Callback()](core::Result<Lease> r) {
    std::lock_guard<std::mutex> lock(*shared_lock);
    inner(std::move(r));
  });
  CHECK_FALSE(b->done());
  {
    std::lock_guard<std::mutex> lock(*shared_lock);
    Lease drop = std::move(*a->Wait());
  }
  REQUIRE(b->Wait().ok());
  CHECK_FALSE(b->Wait()->cold_start());
}

TEST_CASE("pool: a full queue is kUnavailable and says so", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.max_queue = 2;
  REQUIRE(h.pool->Apply(d).ok());
  auto a = h.Acquire();
  auto b = h.Acquire();
  auto c = h.Acquire();
  REQUIRE(c->done());
  REQUIRE_FALSE(c->Wait().ok());
  CHECK(c->Wait().error().code() == ErrorCode::kUnavailable);
  CHECK_THAT(c->Wait().error().message(),
             Catch::Contains("queue full") && Catch::Contains("default/echo"));
  CHECK_FALSE(a->done());
  h.probe.Open();
  CHECK(a->Wait().ok());
  CHECK(b->Wait().ok());
}

TEST_CASE("pool: a call that finds no slot within queue_timeout is kTimeout", "[pool]") {
  Harness h;
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto a = h.Acquire();
  REQUIRE(h.probe.WaitProbes(1));
  h.clock.Advance(1s);
  h.pool->Reconcile();
  CHECK_FALSE(a->done());
  h.clock.Advance(1s);  // 2 s: the deployment's queue_timeout
  h.pool->Reconcile();
  REQUIRE(a->done());
  REQUIRE_FALSE(a->Wait().ok());
  CHECK(a->Wait().error().code() == ErrorCode::kTimeout);
  CHECK_THAT(a->Wait().error().message(),
             Catch::Contains("no free replica of default/echo within 2000 ms"));
  h.probe.Open();
}

TEST_CASE(
    "pool: a replica that never gets ready fails the waiting calls with the reason and goes away",
    "[pool]") {
  Harness h;
  REQUIRE(h.pool->Apply(Echo()).ok());
  h.probe.FailWith(core::Error::Timeout("shim.sock did not answer within 30000 ms"));
  auto a = h.Acquire();
  REQUIRE_FALSE(a->Wait().ok());
  CHECK(a->Wait().error().code() == ErrorCode::kInternal);
  CHECK_THAT(a->Wait().error().message(),
             Catch::Contains("failed to start") && Catch::Contains("did not answer"));
  h.pool->Flush();
  CHECK(h.docker.containers().empty());
  CHECK(ReplicaDirs(h.run_dir) == 0);
  CHECK_THAT(MustDescribe(*h.pool).last_error, Catch::Contains("did not answer"));
}

TEST_CASE("pool: a failed create is reported to the waiting calls", "[pool]") {
  Harness h;
  h.probe.Open();
  h.docker.FailCalls("CreateContainer",
                     core::Error::NotFound("POST /containers/create: no such image"));
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto a = h.Acquire();
  REQUIRE_FALSE(a->Wait().ok());
  CHECK_THAT(a->Wait().error().message(), Catch::Contains("no such image"));
  // Within the back-off a call fails at once instead of starting again.
  auto b = h.Acquire();
  REQUIRE(b->done());
  CHECK_FALSE(b->Wait().ok());
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  // After it, the next call tries again.
  h.docker.ClearFailure("CreateContainer");
  h.clock.Advance(2s);
  auto c = h.Acquire();
  CHECK(c->Wait().ok());
}

TEST_CASE("pool: idle replicas go after idle_timeout and scale.min stays", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  d.concurrency = 1;
  ApplyReady(h, d);
  // A second replica for a burst of two calls, once the first has run longer than a start.
  auto a = h.Acquire();
  auto b = h.Acquire();
  REQUIRE(a->Wait().ok());
  h.clock.Advance(400ms);
  h.pool->Reconcile();
  REQUIRE(b->Wait().ok());
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 2);
  { Lease x = std::move(*a->Wait()), y = std::move(*b->Wait()); }

  h.clock.Advance(5s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 2);  // kept alive within idle_timeout

  h.clock.Advance(6s);
  h.pool->Reconcile();
  h.pool->Flush();
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);  // scale.min
  CHECK(h.docker.containers().size() == 1);
  CHECK(ReplicaDirs(h.run_dir) == 1);
  CHECK(h.docker.CountCalls("StopContainer") == 1);
}

TEST_CASE("pool: with scale.min 0 the function scales to zero and the next call cold-starts",
          "[pool]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  { Lease drop = std::move(*a->Wait()); }
  h.pool->Flush();
  h.clock.Advance(11s);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).replicas.empty());
  CHECK(h.docker.containers().empty());

  auto b = h.Acquire();
  REQUIRE(b->Wait().ok());
  CHECK(b->Wait()->cold_start());
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
}

TEST_CASE("pool: a replica whose container dies is never leased again and is replaced", "[pool]") {
  Harness h(/*watch_events=*/true);
  Deployment d = Echo();
  d.min_replicas = 1;
  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  h.pool->Flush();
  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.ready == 1);
  std::string dead = s.replicas.at(0).id;

  h.probe.Close();
  h.docker.Die(dead, 137, /*oom=*/true);
  // Marked at once (before any control pass): the next call does not get it but waits
  // for the replacement.
  auto a = h.Acquire();
  REQUIRE(h.probe.WaitProbes(2));
  CHECK_FALSE(a->done());
  CHECK(MustDescribe(*h.pool).starting == 1);
  h.probe.Open();
  h.pool->Flush();
  REQUIRE(a->Wait().ok());
  CHECK(a->Wait()->replica_id() != dead);
  CHECK(a->Wait()->cold_start());
  CHECK_FALSE(h.docker.Find(dead).has_value());  // removed
  s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);
  CHECK_THAT(s.last_error, Catch::Contains("out of memory"));
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
}

TEST_CASE("pool: an OOM kill inside a replica is recorded but does not make it dead", "[pool]") {
  Harness h(/*watch_events=*/true);
  Deployment d = Echo();
  d.min_replicas = 1;
  d.concurrency = 2;
  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  h.pool->Flush();
  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.ready == 1);
  std::string id = s.replicas.at(0).id;
  auto busy = h.Acquire();  // a call in flight on the replica
  REQUIRE(busy->Wait().ok());

  // One function process was killed by the kernel; the shim (PID 1) lives on.
  auto container = h.docker.Find(id);
  REQUIRE(container.has_value());
  REQUIRE(h.docker.Emit(docker::Event{
      .type = "container", .action = "oom", .id = id, .attributes = container->spec.labels}));
  h.pool->Reconcile();
  h.pool->Flush();
  s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);
  REQUIRE(s.replicas.size() == 1);
  CHECK(s.replicas.at(0).id == id);
  CHECK(s.replicas.at(0).state == "ready");
  CHECK_THAT(s.replicas.at(0).last_error, Catch::Contains("out of memory"));
  CHECK_THAT(s.last_error, Catch::Contains("out of memory"));
  CHECK(h.docker.Find(id).has_value());
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  // Its other slot is still leased to the next call, warm.
  auto next = h.Acquire();
  REQUIRE(next->Wait().ok());
  CHECK(next->Wait()->replica_id() == id);
  CHECK_FALSE(next->Wait()->cold_start());
}

TEST_CASE("pool: Lease::Fail takes the replica out at once and starts a replacement", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  ApplyReady(h, d);
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  std::string broken = a->Wait()->replica_id();
  a->Wait()->Fail("connection refused");
  auto b = h.Acquire();
  h.pool->Flush();
  REQUIRE(b->Wait().ok());
  CHECK(b->Wait()->replica_id() != broken);
  { Lease drop = std::move(*a->Wait()); }  // releasing the failed lease changes nothing
  h.pool->Flush();
  CHECK_FALSE(h.docker.Find(broken).has_value());
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.ready == 1);
  CHECK_THAT(s.last_error, Catch::Contains("connection refused"));
}

TEST_CASE("pool: a new generation is ready before the old one drains and in-flight calls finish",
          "[pool]") {
  Harness h;
  Deployment v1 = Echo(1);
  v1.min_replicas = 1;
  FunctionStatus s = ApplyReady(h, v1);
  std::string old_id = s.replicas.at(0).id;
  auto held = h.Acquire();
  REQUIRE(held->Wait().ok());

  REQUIRE(h.pool->Apply(Echo(2)).ok());  // blocks until generation 2 is ready
  s = MustDescribe(*h.pool);
  CHECK(s.generation == 2);
  CHECK(s.ready == 1);
  bool old_draining = false;
  for (const auto& r : s.replicas)
    old_draining |= r.id == old_id && r.state == "draining" && r.in_flight == 1;
  CHECK(old_draining);
  CHECK(h.docker.Find(old_id).has_value());  // still serving its call

  auto next = h.Acquire();
  REQUIRE(next->Wait().ok());
  CHECK(next->Wait()->replica_id() != old_id);
  auto created = h.docker.containers();
  bool gen2_labelled = false;
  for (const auto& [id, c] : created) {
    if (id == next->Wait()->replica_id()) gen2_labelled = c.spec.labels.at(kGenerationLabel) == "2";
  }
  CHECK(gen2_labelled);

  { Lease done = std::move(*held->Wait()); }
  h.pool->Flush();
  CHECK_FALSE(h.docker.Find(old_id).has_value());
}

TEST_CASE("pool: a new generation that never gets ready leaves the old one serving", "[pool]") {
  Harness h;
  Deployment v1 = Echo(1);
  v1.min_replicas = 1;
  FunctionStatus s = ApplyReady(h, v1);
  h.probe.FailWith(core::Error::Timeout("never ready"));
  auto applied = h.pool->Apply(Echo(2));
  REQUIRE_FALSE(applied.ok());
  CHECK_THAT(applied.error().message(),
             Catch::Contains("generation 2") && Catch::Contains("never ready"));
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  CHECK(a->Wait()->replica_id() == s.replicas.at(0).id);
}

TEST_CASE(
    "pool: Start adopts current replicas and removes every other gantry container of this pool",
    "[pool]") {
  Harness h;
  Deployment d = Echo(3);
  auto labelled = [&](int64_t generation, const std::string& replica, docker::Labels extra) {
    Deployment g = Echo(generation);
    docker::ContainerSpec spec;
    spec.name = ContainerName(g, replica);
    spec.labels = ReplicaLabels(g, replica, extra);
    spec.network_mode = "bridge";  // where this pool (no instance id, no network) puts replicas
    return h.docker.AddRunning(spec);
  };
  std::string current = labelled(3, "r00000000aa", h.options.extra_labels);
  std::string older = labelled(2, "r00000000bb", h.options.extra_labels);
  std::string other_test = labelled(2, "r00000000cc", {{"gantry.test", "someone-else"}});
  fs::create_directories(h.run_dir + "/r00000000bb/sock");
  fs::create_directories(h.run_dir + "/r00000000dd/sock");  // a leftover without container

  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  h.pool->Flush();
  CHECK(h.docker.Find(current).has_value());
  CHECK_FALSE(h.docker.Find(older).has_value());
  CHECK(h.docker.Find(other_test).has_value());  // not this pool's label: left alone
  CHECK_FALSE(fs::exists(h.run_dir + "/r00000000bb"));
  CHECK_FALSE(fs::exists(h.run_dir + "/r00000000dd"));
  CHECK(h.docker.CountCalls("CreateContainer") == 0);

  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.ready == 1);
  CHECK(s.replicas.at(0).id == current);
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  CHECK(a->Wait()->endpoint().unix_socket == h.run_dir + "/r00000000aa/sock/shim.sock");
  CHECK_FALSE(a->Wait()->cold_start());
}

TEST_CASE("pool: Remove drains and removes every replica and its files", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 2;
  d.secrets = {{"token", "s3cret"}};
  ApplyReady(h, d);
  REQUIRE(h.docker.containers().size() == 2);
  REQUIRE(ReplicaDirs(h.run_dir) == 2);
  REQUIRE(h.pool->Remove("default", "echo").ok());
  CHECK(h.docker.containers().empty());
  CHECK(ReplicaDirs(h.run_dir) == 0);
  CHECK(h.pool->Describe("default", "echo").error().code() == ErrorCode::kNotFound);
  auto after = h.Acquire();
  REQUIRE_FALSE(after->Wait().ok());
  CHECK(after->Wait().error().code() == ErrorCode::kNotFound);
  CHECK(h.pool->List().empty());
}

// The value of secret `name` in every replica directory under `run_dir`, by replica.
std::map<std::string, std::string> SecretFiles(const std::string& run_dir,
                                               const std::string& name) {
  std::map<std::string, std::string> values;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    fs::path file = e.path() / "secrets" / name;
    if (!fs::exists(file)) continue;
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    values[e.path().filename().string()] = text.str();
  }
  return values;
}

TEST_CASE("pool: UpdateSecret replaces the file in every replica that uses it, restarting none",
          "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 2;
  d.secrets = {{"token", "old"}, {"other", "o"}};
  ApplyReady(h, d);
  Deployment elsewhere = Echo();
  elsewhere.namespace_name = "team-b";  // same secret name, another namespace
  elsewhere.name = "echo-b";
  elsewhere.min_replicas = 1;
  elsewhere.secrets = {{"token", "b's own"}};
  REQUIRE(h.pool->Apply(elsewhere).ok());
  h.pool->Flush();
  REQUIRE(SecretFiles(h.run_dir, "token").size() == 3);
  const int created = h.docker.CountCalls("CreateContainer");

  auto updated = h.pool->UpdateSecret("default", "token", "new");
  REQUIRE(updated.ok());
  CHECK(*updated == 2);
  int news = 0;
  for (const auto& [replica, value] : SecretFiles(h.run_dir, "token")) {
    CHECK((value == "new" || value == "b's own"));
    news += value == "new" ? 1 : 0;
  }
  CHECK(news == 2);
  for (const auto& [replica, value] : SecretFiles(h.run_dir, "other")) CHECK(value == "o");
  CHECK(h.docker.CountCalls("CreateContainer") == created);
  CHECK(MustDescribe(*h.pool).generation == 1);
  CHECK(MustDescribe(*h.pool).ready == 2);

  // A replica started later gets the new value, not the one the deployment was applied with.
  REQUIRE(h.pool->Scale("default", "echo", 3).ok());
  h.pool->Flush();
  REQUIRE(MustDescribe(*h.pool).ready == 3);
  news = 0;
  for (const auto& [replica, value] : SecretFiles(h.run_dir, "token"))
    news += value == "new" ? 1 : 0;
  CHECK(news == 3);

  auto unused = h.pool->UpdateSecret("default", "nobody-uses-it", "x");
  REQUIRE(unused.ok());
  CHECK(*unused == 0);
}

TEST_CASE("pool: UpdateSecret reaches a replica that is still starting", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  d.secrets = {{"token", "old"}};
  REQUIRE(h.pool->Apply(d).ok());
  REQUIRE(h.probe.WaitProbes(1));  // its files are made, it is not ready yet
  auto updated = h.pool->UpdateSecret("default", "token", "new");
  REQUIRE(updated.ok());
  CHECK(*updated == 1);
  h.probe.Open();
  h.pool->Flush();
  REQUIRE(MustDescribe(*h.pool).ready == 1);
  auto files = SecretFiles(h.run_dir, "token");
  REQUIRE(files.size() == 1);
  CHECK(files.begin()->second == "new");
}

TEST_CASE("pool: Remove during a cold start abandons it and leaves nothing", "[pool]") {
  Harness h;
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto waiting = h.Acquire();
  REQUIRE(h.probe.WaitProbes(1));  // created and started, not ready yet
  REQUIRE(h.docker.containers().size() == 1);
  REQUIRE(h.pool->Remove("default", "echo").ok());
  REQUIRE(waiting->done());
  CHECK(waiting->Wait().error().code() == ErrorCode::kNotFound);
  CHECK(h.docker.containers().empty());
  CHECK(ReplicaDirs(h.run_dir) == 0);
}

TEST_CASE("pool: a replica that dies while starting is a failed start", "[pool]") {
  Harness h(/*watch_events=*/true);
  REQUIRE(h.pool->Start({}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto waiting = h.Acquire();
  REQUIRE(h.probe.WaitProbes(1));
  auto containers = h.docker.containers();
  REQUIRE(containers.size() == 1);
  h.docker.Die(containers.begin()->first, 3);  // gantry-shim: the function keeps exiting
  REQUIRE_FALSE(waiting->Wait().ok());
  CHECK(waiting->Wait().error().code() == ErrorCode::kInternal);
  CHECK_THAT(waiting->Wait().error().message(), Catch::Contains("exited (code 3)"));
  h.pool->Flush();
  CHECK(h.docker.containers().empty());
}

TEST_CASE("pool: Scale sets the replica count now", "[pool]") {
  Harness h;
  h.probe.Open();
  REQUIRE(h.pool->Apply(Echo()).ok());
  REQUIRE(h.pool->Scale("default", "echo", 3).ok());
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 3);
  h.pool->Reconcile();  // the autoscaler does not undo it at once
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 3);
  REQUIRE(h.pool->Scale("default", "echo", 1).ok());
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 1);
  CHECK(h.docker.containers().size() == 1);
  CHECK(h.pool->Scale("default", "echo", -1).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("pool: Scale outside [scale.min, scale.max] is refused and starts nothing", "[pool]") {
  Harness h;
  h.probe.Open();
  Deployment d = Echo();  // 0..3
  REQUIRE(h.pool->Apply(d).ok());
  auto over = h.pool->Scale("default", "echo", 4);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(over.error().message(), Catch::Contains("[0, 3]"));
  CHECK(h.pool->Scale("default", "echo", 1'000'000'000).error().code() ==
        ErrorCode::kInvalidArgument);
  h.pool->Flush();
  CHECK(h.docker.CountCalls("CreateContainer") == 0);

  d.generation = 2;
  d.min_replicas = 1;
  REQUIRE(h.pool->Apply(d).ok());
  CHECK(h.pool->Scale("default", "echo", 0).error().code() == ErrorCode::kInvalidArgument);
  CHECK(h.pool->Scale("default", "echo", 3).ok());
}

TEST_CASE("pool: Scale held until a call may go below scale.min, and the next call ends the hold",
          "[pool]") {
  Harness h;
  h.probe.Open();
  Deployment d = Echo();  // 0..3
  d.min_replicas = 1;
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  REQUIRE(MustDescribe(*h.pool).ready == 1);
  CHECK(h.pool->Scale("default", "echo", 4, pool::ScaleHold::kUntilCall).error().code() ==
        ErrorCode::kInvalidArgument);  // scale.max still holds
  REQUIRE(h.pool->Scale("default", "echo", 0, pool::ScaleHold::kUntilCall).ok());
  h.pool->Flush();
  FunctionStatus held = MustDescribe(*h.pool);
  CHECK(held.ready == 0);
  CHECK(held.desired == 0);
  CHECK(held.held_until_call);
  // Neither the control loop nor time brings scale.min back while no call comes.
  for (int i = 0; i < 3; ++i) {
    h.clock.Advance(1h);
    h.pool->Reconcile();
    h.pool->Flush();
  }
  CHECK(MustDescribe(*h.pool).ready == 0);
  CHECK(h.docker.containers().empty());
  // A call scales it from zero and the usual rules apply again.
  auto call = h.Acquire();
  REQUIRE(call->Wait().ok());
  CHECK(call->Wait()->cold_start());
  { Lease done = std::move(*call->Wait()); }
  h.pool->Reconcile();
  h.pool->Flush();
  FunctionStatus after = MustDescribe(*h.pool);
  CHECK_FALSE(after.held_until_call);
  CHECK(after.ready == 1);
  h.clock.Advance(1h);
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 1);  // scale.min again
}

// Runs `f` on a thread; true when it returned within a few (real) seconds, whatever the
// pool's clock says. Joins the thread either way.
template <typename F>
bool ReturnsSoon(F f) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    f();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  bool soon;
  {
    std::unique_lock<std::mutex> lock(mu);
    soon = cv.wait_for(lock, 10s, [&] { return done; });
  }
  t.join();
  return soon;
}

// Moves `clock` on by 5 s every few real milliseconds while it exists (at most ~2000
// times): a wait on the pool's clock ends soon, one on the real clock does not.
class TimeFlies {
 public:
  explicit TimeFlies(core::ManualClock& clock)
      : thread_([this, &clock] {
          for (int i = 0; i < 2000 && !stop_; ++i) {
            clock.Advance(5s);
            std::this_thread::sleep_for(5ms);
          }
        }) {}
  ~TimeFlies() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_CASE("pool: Apply's wait for a new generation ends by the pool's clock", "[pool]") {
  Harness h;
  Deployment v1 = Echo(1);
  v1.min_replicas = 1;
  ApplyReady(h, v1);
  h.probe.Close();  // generation 2 never gets ready
  core::Status applied;
  bool soon = ReturnsSoon([&] {
    TimeFlies flies(h.clock);
    applied = h.pool->Apply(Echo(2));
  });
  CHECK(soon);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().code() == ErrorCode::kInternal);
}

TEST_CASE("pool: Remove's wait for calls in flight ends by the pool's clock", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  ApplyReady(h, d);
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());  // held: the replica drains until this call ends or is cut
  core::Status removed;
  bool soon = ReturnsSoon([&] {
    TimeFlies flies(h.clock);
    removed = h.pool->Remove("default", "echo");
  });
  CHECK(soon);
  CHECK(removed.ok());
  CHECK(h.docker.containers().empty());
}

TEST_CASE("pool: containers carry the instance id, and Start leaves other instances' alone",
          "[pool]") {
  Harness h;
  h.options.instance_id = "aaaa1111";
  h.pool = std::make_unique<Pool>(h.docker, h.options);
  Deployment d = Echo(1);
  auto with_instance = [&](const std::string& replica, const std::string& instance) {
    docker::ContainerSpec spec;
    spec.name = ContainerName(d, replica);
    docker::Labels extra = h.options.extra_labels;
    extra["gantry.instance"] = instance;
    spec.labels = ReplicaLabels(d, replica, extra);
    spec.network_mode = "gantry-" + instance;
    return h.docker.AddRunning(spec);
  };
  std::string mine = with_instance("r00000000aa", "aaaa1111");
  std::string theirs = with_instance("r00000000bb", "bbbb2222");  // same function, same --label
  std::string stale = with_instance("r00000000cc", "aaaa1111");

  h.probe.Open();
  d.min_replicas = 2;
  REQUIRE(h.pool->Start({d}).ok());
  h.pool->Flush();
  CHECK(h.docker.Find(mine).has_value());
  CHECK(h.docker.Find(theirs).has_value());  // another instance's: neither adopted nor removed
  CHECK(h.docker.Find(stale).has_value());   // ours and current: adopted too
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.ready == 2);
  for (const auto& r : s.replicas) CHECK(r.id != theirs);

  REQUIRE(h.pool->Scale("default", "echo", 3).ok());
  h.pool->Flush();
  int created = 0;
  for (const auto& [id, c] : h.docker.containers()) {
    if (id == theirs || id == mine || id == stale) continue;
    ++created;
    CHECK(c.spec.labels.at("gantry.instance") == "aaaa1111");
    CHECK(c.spec.labels.at("gantry.test") == "unit");
  }
  CHECK(created == 1);
  // The engine's events of another instance's container are not this pool's business.
  h.docker.Die(theirs);
  CHECK(MustDescribe(*h.pool).ready == 3);
}

TEST_CASE("pool: Apply rejects a deployment it cannot run", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.concurrency = 0;
  CHECK(h.pool->Apply(d).error().code() == ErrorCode::kInvalidArgument);
  d = Echo();
  d.min_replicas = 5;
  CHECK(h.pool->Apply(d).error().code() == ErrorCode::kInvalidArgument);
  h.probe.Open();
  REQUIRE(h.pool->Apply(Echo(2)).ok());
  CHECK(h.pool->Apply(Echo(1)).error().code() == ErrorCode::kConflict);
}

TEST_CASE("pool: replicas sit on the instance's own network, made at Start", "[pool]") {
  Harness h;
  h.options.instance_id = "aaaa1111";
  h.pool = std::make_unique<Pool>(h.docker, h.options);
  REQUIRE(h.pool->Start({}).ok());
  auto networks = h.docker.networks();
  REQUIRE(networks.count("gantry-aaaa1111") == 1);
  CHECK(networks.at("gantry-aaaa1111").labels.at("gantry.instance") == "aaaa1111");
  CHECK(networks.at("gantry-aaaa1111").labels.at("gantry.test") == "unit");
  CHECK(networks.at("gantry-aaaa1111").options.at("com.docker.network.bridge.enable_icc") ==
        "false");

  Deployment open = Echo();
  open.min_replicas = 1;
  Deployment closed = Echo();
  closed.name = "sealed";
  closed.network = NetworkAccess::kNone;
  closed.min_replicas = 1;
  ApplyReady(h, open);
  ApplyReady(h, closed);
  std::map<std::string, std::string> mode;  // function -> network mode
  for (const auto& [id, c] : h.docker.containers())
    mode[c.spec.labels.at("gantry.function")] = c.spec.network_mode;
  CHECK(mode ==
        std::map<std::string, std::string>{{"echo", "gantry-aaaa1111"}, {"sealed", "none"}});

  // Stop leaves the network (replicas still use it; a restarted gantryd adopts both).
  h.pool->Stop();
  CHECK(h.docker.CountCalls("RemoveNetwork") == 0);
  CHECK(h.docker.networks().count("gantry-aaaa1111") == 1);
}

TEST_CASE("pool: Start refuses a network of its name that is not its own", "[pool]") {
  Harness h;
  h.options.instance_id = "aaaa1111";
  h.pool = std::make_unique<Pool>(h.docker, h.options);
  REQUIRE(
      h.docker.CreateNetwork({.name = "gantry-aaaa1111", .labels = {{"owner", "someone"}}}).ok());
  auto s = h.pool->Start({});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::kConflict);
  CHECK_THAT(s.error().message(), Catch::Contains("gantry-aaaa1111"));
  CHECK(h.docker.CountCalls("ListContainers") == 0);  // nothing adopted or removed either
}

TEST_CASE("pool: a network removed behind the pool's back is made again at the next start",
          "[pool]") {
  Harness h;
  h.options.instance_id = "aaaa1111";
  h.pool = std::make_unique<Pool>(h.docker, h.options);
  REQUIRE(h.pool->Start({}).ok());
  REQUIRE(h.docker.RemoveNetwork("gantry-aaaa1111").ok());  // `docker network prune` while idle
  Deployment d = Echo();
  d.min_replicas = 1;
  FunctionStatus s = ApplyReady(h, d);
  CHECK(s.ready == 1);
  CHECK(h.docker.networks().count("gantry-aaaa1111") == 1);
  CHECK(h.docker.CountCalls("CreateNetwork") == 2);
}

TEST_CASE("pool: Start replaces a current replica that is on the wrong network", "[pool]") {
  Harness h;
  h.options.instance_id = "aaaa1111";
  h.pool = std::make_unique<Pool>(h.docker, h.options);
  Deployment d = Echo();
  d.min_replicas = 1;
  auto running = [&](const std::string& replica, const std::string& network_mode) {
    docker::ContainerSpec spec;
    spec.name = ContainerName(d, replica);
    docker::Labels extra = h.options.extra_labels;
    extra["gantry.instance"] = "aaaa1111";
    spec.labels = ReplicaLabels(d, replica, extra);
    spec.network_mode = network_mode;
    return h.docker.AddRunning(spec);
  };
  // Made before functions had a network (an older gantryd): isolated, though the spec says default.
  std::string old = running("r00000000aa", "none");
  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  h.pool->Flush();
  CHECK_FALSE(h.docker.Find(old).has_value());
  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.ready == 1);
  CHECK(h.docker.Find(s.replicas.at(0).id)->spec.network_mode == "gantry-aaaa1111");
}

TEST_CASE("pool: Apply rejects network none for an image reached over a published port", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.http_port = 8080;
  d.network = NetworkAccess::kNone;
  auto s = h.pool->Apply(d);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(s.error().message(), Catch::Contains("network none") && Catch::Contains("8080"));
}

TEST_CASE("pool: Stop fails waiting calls and leaves containers running", "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  d.max_replicas = 1;
  ApplyReady(h, d);
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  auto b = h.Acquire();  // concurrency 4: fill the slots, then one waits
  auto c = h.Acquire();
  auto e = h.Acquire();
  auto queued = h.Acquire();
  h.pool->Stop();
  REQUIRE(queued->done());
  CHECK(queued->Wait().error().code() == ErrorCode::kUnavailable);
  CHECK(h.docker.running() >= 1);
  CHECK(h.docker.CountCalls("StopContainer") == 0);
}

TEST_CASE("pool: start failures in a row double the back-off, a ready replica resets it",
          "[pool]") {
  Harness h;
  h.probe.Open();
  h.docker.FailCalls("CreateContainer", core::Error::Internal("engine says no"));
  REQUIRE(h.pool->Apply(Echo()).ok());
  // A call that has to wait for the start gets its failure; one within the back-off fails
  // at once (on the calling thread) and starts nothing.
  auto failed_start = [&] {
    auto a = h.Acquire();
    REQUIRE_FALSE(a->Wait().ok());
    CHECK(a->Wait().error().code() == ErrorCode::kInternal);
    CHECK_THAT(a->Wait().error().message(), Catch::Contains("engine says no"));
    h.pool->Flush();
  };
  auto refused_at_once = [&] {
    auto a = h.Acquire();
    REQUIRE(a->done());
    CHECK(a->Wait().error().code() == ErrorCode::kInternal);
  };

  failed_start();  // t = 0: 1st failure, no start before t = 1 s
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  h.clock.Advance(999ms);
  refused_at_once();
  CHECK(h.docker.CountCalls("CreateContainer") == 1);
  h.clock.Advance(1ms);
  failed_start();  // t = 1 s: 2nd failure, 2 s back-off
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
  h.clock.Advance(1999ms);
  refused_at_once();
  CHECK(h.docker.CountCalls("CreateContainer") == 2);
  h.clock.Advance(1ms);
  failed_start();  // t = 3 s: 3rd failure, 4 s back-off
  CHECK(h.docker.CountCalls("CreateContainer") == 3);
  h.clock.Advance(3999ms);
  refused_at_once();
  CHECK(h.docker.CountCalls("CreateContainer") == 3);

  h.docker.ClearFailure("CreateContainer");
  h.clock.Advance(1ms);  // t = 7 s
  {
    auto ok = h.Acquire();
    REQUIRE(ok->Wait().ok());
    CHECK(ok->Wait()->cold_start());
    // The ready replica reset the count: the next failure backs off 1 s again, not 8 s.
    h.docker.FailCalls("CreateContainer", core::Error::Internal("engine says no"));
    ok->Wait()->Fail("broken pipe");
  }
  h.pool->Flush();
  failed_start();
  CHECK(h.docker.CountCalls("CreateContainer") == 5);
  h.clock.Advance(1s);
  failed_start();
  CHECK(h.docker.CountCalls("CreateContainer") == 6);
}

TEST_CASE("pool: Remove cuts a call stuck past the deadline: its replica is removed as dead",
          "[pool]") {
  Harness h;
  Deployment d = Echo();
  d.min_replicas = 1;
  d.max_replicas = 1;
  ApplyReady(h, d);
  std::vector<std::shared_ptr<Acquired>> held;
  for (int i = 0; i < d.concurrency; ++i) {
    held.push_back(h.Acquire());
    REQUIRE(held.back()->Wait().ok());
  }
  auto queued = h.Acquire();  // every slot is held and scale.max is 1: it waits
  REQUIRE_FALSE(queued->done());
  const std::string id = held[0]->Wait()->replica_id();

  core::Status removed;
  bool soon = ReturnsSoon([&] {
    TimeFlies flies(h.clock);
    removed = h.pool->Remove("default", "echo");
  });
  CHECK(soon);
  CHECK(removed.ok());
  REQUIRE(queued->done());
  CHECK(queued->Wait().error().code() == ErrorCode::kNotFound);
  CHECK_FALSE(h.docker.Find(id).has_value());
  CHECK(h.docker.CountCalls("StopContainer") == 0);  // cut, not stopped gracefully
  CHECK(h.pool->Describe("default", "echo").error().code() == ErrorCode::kNotFound);
  CHECK(ReplicaDirs(h.run_dir) == 0);

  // The cut calls' leases end later, harmlessly, and the name can be deployed again.
  const size_t calls_before = h.docker.calls().size();
  held.clear();
  h.pool->Flush();
  CHECK(h.docker.calls().size() == calls_before);
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  CHECK(MustDescribe(*h.pool).ready == 1);
}

}  // namespace
}  // namespace gantry::pool
