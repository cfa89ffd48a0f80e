// The pool against the real engine (CTest label "integration"): examples built by the
// Builder into the test's own namespace run as replicas; calls share one cold start and
// answer over the shim's socket; a killed replica is replaced; a second Pool adopts what
// the first left running and removes an older generation's container; Remove leaves
// nothing. Every container carries the TestEngine's label (PoolOptions.extra_labels), so
// tests running at once never touch each other's, and the run dir lives under /tmp.
#include "pool/pool.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "builder/builder.h"
#include "pool/container_spec.h"
#include "pool/readiness.h"
#include "shim_support.h"
#include "support/engine.h"
#include "support/eventually.h"
#include "support/examples.h"

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TestEngine;

// Polls `done` every 50 ms until it holds; false after `limit` (the engine is slow
// sometimes; nothing here measures speed).
using testing::Eventually;

// A short run dir of the test's own (unix socket paths are limited to 107 bytes).
struct RunDir {
  RunDir() {
    char dir[] = "/tmp/gantry-pool-it.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    path = dir;
  }
  ~RunDir() {
    testing::UnmountAllBelow(path);  // socket tmpfs of replicas left running for adoption
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  bool Empty() const { return fs::is_empty(path); }
  std::string path;
};

// Builds `spec` (loaded into the test's namespace) and describes it as the daemon would.
Deployment Build(TestEngine& engine, const spec::FunctionSpec& spec) {
  builder::BuilderOptions options;
  options.templates.shim_path = GANTRY_SHIM_BINARY;
  options.templates.bootstrap_dir = std::string(GANTRY_SOURCE_DIR) + "/runtime-shim/bootstrap";
  options.extra_labels = engine.labels();
  builder::Builder builder(engine.client(), options);
  auto built = builder.Build(spec);
  if (!built) FAIL(built.error().ToString());
  // What the tests need of the daemon's mapping (daemon/deployment_codec.h has it all).
  return Deployment{.namespace_name = spec.namespace_name(),
                    .name = spec.name(),
                    .image = built->ref,
                    .http_port = built->http_port,
                    .concurrency = spec.concurrency(),
                    .min_replicas = spec.scale().min,
                    .max_replicas = spec.scale().max,
                    .timeout = spec.timeout()};
}

Deployment Build(TestEngine& engine, const std::string& example) {
  return Build(engine, testing::LoadExampleInto(engine.value(), example));
}

PoolOptions Options(const TestEngine& engine, const RunDir& run_dir) {
  PoolOptions o;
  o.run_dir = run_dir.path;
  o.extra_labels = engine.labels();
  o.network =
      engine.Name("net");  // the pool's own bridge (ICC off), removed with the test's objects
  o.control_interval = 200ms;
  return o;
}

// Acquire, waited for (bounded).
core::Result<Lease> AcquireNow(Pool& pool, const Deployment& d) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<core::Result<Lease>> result;
  pool.Acquire(d.namespace_name, d.name, [&](core::Result<Lease> r) {
    std::lock_guard<std::mutex> lock(mu);
    result.emplace(std::move(r));
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  if (!cv.wait_for(lock, 60s, [&] { return result.has_value(); })) FAIL("Acquire never answered");
  return std::move(*result);
}

size_t Containers(TestEngine& engine, bool all = true) {
  auto list = engine.client().ListContainers({engine.selector()}, all);
  REQUIRE(list.ok());
  return list->size();
}

FunctionStatus MustDescribe(Pool& pool, const Deployment& d) {
  auto s = pool.Describe(d.namespace_name, d.name);
  REQUIRE(s.ok());
  return *s;
}

std::string ReadyReplica(Pool& pool, const Deployment& d) {
  std::string id;
  bool ready = Eventually([&] {
    for (const auto& r : MustDescribe(pool, d).replicas) {
      if (r.state == "ready") id = r.id;
    }
    return !id.empty();
  });
  REQUIRE(ready);
  return id;
}

// Echo with scale.min 1 on a started pool, its first replica ready.
struct WarmEcho {
  WarmEcho() : d(Build(engine, "echo")), pool(engine.client(), Options(engine, run_dir)) {
    d.min_replicas = 1;
    REQUIRE(pool.Start({}).ok());
    REQUIRE(pool.Apply(d).ok());
    first = ReadyReplica(pool, d);
  }
  TestEngine engine;
  RunDir run_dir;
  Deployment d;
  Pool pool;
  std::string first;
};

TEST_CASE(
    "pool engine: concurrent calls to a cold function share one start and answer over the socket",
    "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  Deployment d = Build(engine, "echo");
  REQUIRE(d.concurrency == 16);
  Pool pool(engine.client(), Options(engine, run_dir));
  REQUIRE(pool.Start({}).ok());
  REQUIRE(pool.Apply(d).ok());
  CHECK(Containers(engine) == 0);  // scale.min 0

  constexpr int kCalls = 8;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<core::Result<Lease>> leases;
  for (int i = 0; i < kCalls; ++i) {
    pool.Acquire(d.namespace_name, d.name, [&](core::Result<Lease> r) {
      std::lock_guard<std::mutex> lock(mu);
      leases.push_back(std::move(r));
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, 60s, [&] { return leases.size() == kCalls; }));
  }
  std::set<std::string> replicas;
  for (size_t i = 0; i < leases.size(); ++i) {
    REQUIRE(leases[i].ok());
    CHECK(leases[i]->cold_start());
    replicas.insert(leases[i]->replica_id());
    auto reply = testing::CallUnix(leases[i]->endpoint().unix_socket, "POST", "/",
                                   "call " + std::to_string(i));
    CHECK(reply.status == 200);
    CHECK(reply.body == "call " + std::to_string(i));
  }
  CHECK(replicas.size() == 1);
  CHECK(Containers(engine) == 1);
  leases.clear();

  auto warm = AcquireNow(pool, d);
  REQUIRE(warm.ok());
  CHECK_FALSE(warm->cold_start());
  CHECK(warm->replica_id() == *replicas.begin());
  CHECK(testing::CallUnix(warm->endpoint().unix_socket, "POST", "/", "warm").body == "warm");

  // The container runs the way DESIGN.md says.
  auto info = engine.client().InspectContainer(warm->replica_id());
  REQUIRE(info.ok());
  CHECK(info->read_only_rootfs);
  CHECK(info->network_mode == engine.Name("net"));  // the pool's network, made at Start
  CHECK(info->memory_bytes == d.memory_bytes);
  CHECK(info->pids_limit == d.pids_limit);
  CHECK(info->labels.at(kFunctionLabel) == "echo");
  CHECK(info->labels.at(kNamespaceLabel) == engine.value());
  CHECK(info->labels.at(kGenerationLabel) == "1");
  CHECK(info->labels.count(kReplicaLabel) == 1);
}

TEST_CASE("pool engine: an idle replica goes after idleTimeout and the next call cold-starts",
          "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  Deployment d = Build(engine, "echo");
  d.idle_timeout = 1s;
  Pool pool(engine.client(), Options(engine, run_dir));
  REQUIRE(pool.Start({}).ok());
  REQUIRE(pool.Apply(d).ok());
  std::string first;
  {
    auto lease = AcquireNow(pool, d);
    REQUIRE(lease.ok());
    CHECK(lease->cold_start());
    first = lease->replica_id();
    CHECK(testing::CallUnix(lease->endpoint().unix_socket, "POST", "/", "one").body == "one");
  }
  REQUIRE(Eventually([&] { return MustDescribe(pool, d).replicas.empty(); }));
  CHECK(Containers(engine) == 0);
  CHECK(run_dir.Empty());

  auto again = AcquireNow(pool, d);
  REQUIRE(again.ok());
  CHECK(again->cold_start());
  CHECK(again->replica_id() != first);
  CHECK(testing::CallUnix(again->endpoint().unix_socket, "POST", "/", "two").body == "two");
}

TEST_CASE("pool engine: a killed replica is detected and replaced and never leased again",
          "[integration][pool]") {
  WarmEcho w;
  TestEngine& engine = w.engine;
  Pool& pool = w.pool;
  const Deployment& d = w.d;
  std::string killed = w.first;
  REQUIRE(engine.client().KillContainer(killed, "SIGKILL").ok());

  std::string replacement;
  REQUIRE(Eventually([&] {
    replacement = ReadyReplica(pool, d);
    return replacement != killed;
  }));
  auto lease = AcquireNow(pool, d);
  REQUIRE(lease.ok());
  CHECK(lease->replica_id() != killed);
  CHECK(testing::CallUnix(lease->endpoint().unix_socket, "POST", "/", "again").body == "again");
  CHECK(Eventually([&] { return !engine.client().InspectContainer(killed).ok(); }));  // removed
  CHECK_THAT(MustDescribe(pool, d).last_error, Catch::Contains("exited"));
}

TEST_CASE("pool engine: a replica that stops answering its health check is replaced",
          "[integration][pool]") {
  WarmEcho w;
  TestEngine& engine = w.engine;
  Pool& pool = w.pool;
  const Deployment& d = w.d;
  std::string wedged = w.first;
  REQUIRE(engine.client().PauseContainer(wedged).ok());  // running, but its shim answers nothing

  std::string replacement;
  REQUIRE(Eventually(
      [&] {
        replacement = ReadyReplica(pool, d);
        return replacement != wedged;
      },
      60s));
  CHECK_THAT(MustDescribe(pool, d).last_error, Catch::Contains("health check failed"));
  CHECK(Eventually([&] { return !engine.client().InspectContainer(wedged).ok(); }));  // removed
}

TEST_CASE(
    "pool engine: a restarted pool adopts the running replica and removes an older generation",
    "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  Deployment d = Build(engine, "echo");
  d.min_replicas = 1;
  d.generation = 2;
  std::string adopted;
  {
    Pool first(engine.client(), Options(engine, run_dir));
    REQUIRE(first.Start({}).ok());
    REQUIRE(first.Apply(d).ok());
    adopted = ReadyReplica(first, d);
  }  // Stop()s: the replica keeps running
  REQUIRE(Containers(engine, /*all=*/false) == 1);

  // A container of generation 1, as a crashed gantryd might have left behind.
  Deployment old = d;
  old.generation = 1;
  docker::ContainerSpec orphan_spec{.name = ContainerName(old, "r00000000ee"),
                                    .image = d.image,
                                    .labels = ReplicaLabels(old, "r00000000ee", engine.labels())};
  auto orphan = engine.client().CreateContainer(orphan_spec);
  REQUIRE(orphan.ok());
  fs::create_directories(run_dir.path + "/r00000000ee/sock");

  Pool second(engine.client(), Options(engine, run_dir));
  REQUIRE(second.Start({d}).ok());
  FunctionStatus s = MustDescribe(second, d);
  REQUIRE(s.ready == 1);
  CHECK(s.replicas.at(0).id == adopted);
  CHECK_FALSE(engine.client().InspectContainer(*orphan).ok());
  CHECK_FALSE(fs::exists(run_dir.path + "/r00000000ee"));
  CHECK(Containers(engine) == 1);  // nothing new was created

  auto lease = AcquireNow(second, d);
  REQUIRE(lease.ok());
  CHECK_FALSE(lease->cold_start());
  CHECK(lease->replica_id() == adopted);
  CHECK(testing::CallUnix(lease->endpoint().unix_socket, "POST", "/", "adopted").body == "adopted");
}

TEST_CASE("pool engine: Remove drains and leaves no container and no run dir",
          "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  Deployment d = Build(engine, "echo");
  d.min_replicas = 2;
  d.secrets = {{"api-key", "k3y"}};
  Pool pool(engine.client(), Options(engine, run_dir));
  REQUIRE(pool.Start({}).ok());
  REQUIRE(pool.Apply(d).ok());
  REQUIRE(Eventually([&] { return MustDescribe(pool, d).ready == 2; }));
  REQUIRE(Containers(engine) == 2);
  REQUIRE_FALSE(run_dir.Empty());

  REQUIRE(pool.Remove(d.namespace_name, d.name).ok());
  CHECK(Containers(engine) == 0);
  CHECK(run_dir.Empty());
  auto after = AcquireNow(pool, d);
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code() == core::ErrorCode::kNotFound);
}

TEST_CASE("pool engine: a function reads its secrets at both mount points as its own user",
          "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  RunDir source;
  {
    std::ofstream manifest(source.path + "/gantry.yaml");
    manifest
        << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: secret-reader\nspec:\n"
           "  runtime: exec\n"
           "  command: [\"cat\", \"/var/gantry/secrets/api-key\", "
           "\"/var/openfaas/secrets/api-key\"]\n"
           "  secrets: [api-key]\n";
  }
  Deployment d =
      Build(engine, testing::LoadFunctionInto(engine.value(), source.path + "/gantry.yaml"));
  d.secrets = {{"api-key", "k3y;"}};

  Pool pool(engine.client(), Options(engine, run_dir));
  REQUIRE(pool.Start({}).ok());
  REQUIRE(pool.Apply(d).ok());
  auto lease = AcquireNow(pool, d);
  REQUIRE(lease.ok());
  auto reply = testing::CallUnix(lease->endpoint().unix_socket, "POST", "/", "");
  CHECK(reply.status == 200);
  CHECK(reply.body == "k3y;k3y;");
}

TEST_CASE("pool engine: an image serving HTTP itself is reached on its port published on loopback",
          "[integration][pool]") {
  TestEngine engine;
  RunDir run_dir;
  Deployment d = Build(engine, "custom-dockerfile");
  REQUIRE(d.http_port == 8080);
  Pool pool(engine.client(), Options(engine, run_dir));
  REQUIRE(pool.Start({}).ok());
  REQUIRE(pool.Apply(d).ok());
  auto lease = AcquireNow(pool, d);
  REQUIRE(lease.ok());
  CHECK(lease->endpoint().unix_socket.empty());
  CHECK(lease->endpoint().host == "127.0.0.1");
  REQUIRE(lease->endpoint().port > 0);
  CHECK(ProbeOnce(lease->endpoint(), "/time", 10s) == 200);
  auto info = engine.client().InspectContainer(lease->replica_id());
  REQUIRE(info.ok());
  CHECK(info->read_only_rootfs);
}

}  // namespace
}  // namespace gantry::pool
