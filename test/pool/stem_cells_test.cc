// Stem cells in the pool against an in-memory engine (FakeDockerClient), a hand-driven
// clock, an open readiness gate and a scripted /_/specialize: filling and refilling, a
// cell handed out once and to one function only, the fallback to a new container, and
// what a restarted pool adopts or removes.
#include "pool/stem_cells.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "pool/container_spec.h"
#include "pool/stem_specialize.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Answers every /_/specialize with `status` (200 unless told) and keeps what it was sent.
class ScriptedSpecializer final : public Specializer {
 public:
  SpecializeAnswer Specialize(const Endpoint& endpoint, const std::string& body,
                              std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back({endpoint.unix_socket, body});
    if (status_ == 0) return {.sent = false};
    return {.sent = true,
            .status = status_,
            .body = status_ == 200 ? R"({"ready": true})" : R"({"error": "boom"})"};
  }
  void AnswerWith(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
  }
  std::vector<std::pair<std::string, std::string>> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  int status_ = 200;
  std::vector<std::pair<std::string, std::string>> sent_;  // (socket, body)
};

struct StemHarness {
  explicit StemHarness(bool watch_events = false) {
    options = UnitPoolOptions(clock, probe, watch_events);
    options.specializer = &specializer;
    run_dir = options.run_dir;
    package_dir = run_dir + "-package";
    fs::create_directories(package_dir + "/task");
    fs::create_directories(package_dir + "/deps/python");
    std::ofstream(package_dir + "/task/handler.py") << "def main(e, c): return 'hi'\n";
    std::ofstream(package_dir + "/deps/python/dep.py") << "X = 1\n";
    probe.Open();
    pool = std::make_unique<Pool>(docker, options);
  }
  ~StemHarness() {
    pool.reset();
    std::error_code ignored;
    fs::remove_all(run_dir, ignored);
    fs::remove_all(package_dir, ignored);
  }

  // A python3 function stem cells may serve.
  Deployment Function(const std::string& name, int64_t generation = 1) const {
    Deployment d = Echo(generation);
    d.name = name;
    d.runtime_api = true;
    d.env = {{"_HANDLER", "handler.main"}, {"GREETING", "hi"}};
    d.stem = StemSpec{.runtime = "python3", .package_dir = package_dir};
    return d;
  }
  // Containers carrying the stem label, by id.
  std::map<std::string, testing::FakeDockerClient::Container> Cells() const {
    std::map<std::string, testing::FakeDockerClient::Container> cells;
    for (const auto& [id, c] : docker.containers()) {
      if (c.spec.labels.count(kStemLabel) > 0) cells[id] = c;
    }
    return cells;
  }
  std::shared_ptr<Acquired> Acquire(const std::string& name) {
    auto a = std::make_shared<Acquired>();
    pool->Acquire("default", name, a->Callback());
    return a;
  }

  testing::FakeDockerClient docker;
  core::ManualClock clock;
  GateProbe probe;
  ScriptedSpecializer specializer;
  std::string run_dir;
  std::string package_dir;
  PoolOptions options;
  std::unique_ptr<Pool> pool;
};

TEST_CASE("stem cells: a started pool fills each runtime to its count, labelled as cells",
          "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 2);
  h.pool->Flush();
  CHECK(h.Cells().empty());  // nothing before Start: an earlier gantryd's may still be there
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  auto cells = h.Cells();
  REQUIRE(cells.size() == 2);
  CHECK(h.pool->FreeStemCells() == std::map<std::string, int>{{"python3", 2}});
  for (const auto& [id, c] : cells) {
    CHECK(c.running);
    CHECK(c.spec.image == "gantry/stem:python3");
    CHECK(c.spec.labels.at(kStemLabel) == "python3");
    CHECK(c.spec.labels.count(kFunctionLabel) == 0);
    CHECK(c.spec.labels.at("gantry.test") == h.options.extra_labels.at("gantry.test"));
    CHECK(c.spec.memory_bytes == kDefaultMemoryBytes);
    CHECK(c.spec.read_only_rootfs);
    std::set<std::string> targets;
    for (const auto& m : c.spec.mounts) targets.insert(m.target);
    CHECK(targets == std::set<std::string>{"/run/gantry", "/var/task", "/opt/gantry/deps",
                                           "/var/gantry/secrets", "/var/openfaas/secrets", "/tmp"});
  }
  h.pool->Flush();
  CHECK(h.Cells().size() == 2);  // bounded: never more than the count
}

TEST_CASE("stem cells: a free cell that dies is removed and replaced, never handed out", "[stem]") {
  StemHarness h(/*watch_events=*/true);
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  h.pool->Flush();
  auto cells = h.Cells();
  REQUIRE(cells.size() == 1);
  const std::string dead = cells.begin()->first;
  REQUIRE(h.docker.Emit(docker::Event{.type = "container",
                                      .action = "die",
                                      .id = dead,
                                      .attributes = cells.begin()->second.spec.labels}));
  h.pool->Flush();
  cells = h.Cells();
  REQUIRE(cells.size() == 1);
  CHECK(cells.count(dead) == 0);  // removed, and another created in its place
  CHECK(h.pool->FreeStemCells() == std::map<std::string, int>{{"python3", 1}});

  // A die of a container that is nobody's changes nothing.
  REQUIRE(h.docker.Emit(docker::Event{.type = "container", .action = "die", .id = "elsewhere"}));
  h.pool->Flush();
  auto after = h.Cells();
  REQUIRE(after.size() == 1);
  CHECK(after.begin()->first == cells.begin()->first);
}

TEST_CASE("stem cells: a first start specialises a cell, the cell is refilled", "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  std::string cell = h.Cells().begin()->first;
  Deployment d = h.Function("alpha");
  d.secrets = {{"token", "s3cret"}};
  REQUIRE(h.pool->Apply(d).ok());

  auto a = h.Acquire("alpha");
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  CHECK(lease->replica_id() == cell);
  CHECK(lease->start_path() == StartPath::kStemCell);
  CHECK(lease->cold_start());
  for (const auto& [id, c] : h.docker.containers()) {
    CHECK(c.spec.labels.count(kFunctionLabel) == 0);  // cells only: none created for alpha
  }
  CHECK(h.docker.CountCalls("UpdateContainer") == 0);  // default limits: nothing to change

  // The package and secret are in the cell's directories, the marker beside them.
  std::string dir = fs::path(lease->endpoint().unix_socket).parent_path().parent_path().string();
  CHECK(fs::exists(dir + "/task/handler.py"));
  CHECK(fs::exists(dir + "/deps/python/dep.py"));
  std::ifstream secret(dir + "/secrets/token");
  std::string value((std::istreambuf_iterator<char>(secret)), std::istreambuf_iterator<char>());
  CHECK(value == "s3cret");
  auto owner = ReadStemOwner(PathsFor(h.run_dir, fs::path(dir).filename().string()));
  REQUIRE(owner.has_value());
  CHECK(owner->name == "alpha");
  CHECK(owner->generation == 1);

  // What the shim was told: the function's env, without the shim's own settings.
  auto sent = h.specializer.sent();
  REQUIRE(sent.size() == 1);
  auto body = nlohmann::json::parse(sent[0].second);
  CHECK(body["env"]["GREETING"] == "hi");
  CHECK(body["env"]["_HANDLER"] == "handler.main");
  CHECK(body["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "alpha");
  CHECK_FALSE(body["env"].contains("GANTRY_TIMEOUT"));
  CHECK(body["timeout"] == "5s");
  CHECK(body["maxInflight"] == 4);

  h.pool->Flush();
  auto cells = h.Cells();
  CHECK(cells.size() == 2);  // the specialised one and its replacement
  CHECK(h.pool->FreeStemCells().at("python3") == 1);
}

TEST_CASE("stem cells: a cell is handed out once, one specialised for A never serves B", "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  REQUIRE(h.pool->Apply(h.Function("alpha")).ok());
  REQUIRE(h.pool->Apply(h.Function("beta")).ok());
  auto a = h.Acquire("alpha");
  REQUIRE(a->Wait().ok());
  std::string alpha_container = a->Wait()->replica_id();
  h.pool->Flush();  // the refill
  auto b = h.Acquire("beta");
  REQUIRE(b->Wait().ok());
  CHECK(b->Wait()->start_path() == StartPath::kStemCell);
  CHECK(b->Wait()->replica_id() != alpha_container);
  // Two calls, two distinct sockets specialised.
  auto sent = h.specializer.sent();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].first != sent[1].first);
}

TEST_CASE("stem cells: other limits are applied with an update, others' runtimes get none",
          "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  Deployment d = h.Function("big");
  d.memory_bytes = 256LL << 20;
  REQUIRE(h.pool->Apply(d).ok());
  Deployment node = h.Function("js");
  node.stem->runtime = "node";  // no node cells: a new container
  REQUIRE(h.pool->Apply(node).ok());

  auto a = h.Acquire("big");
  REQUIRE(a->Wait().ok());
  auto c = h.docker.Find(a->Wait()->replica_id());
  REQUIRE(c.has_value());
  REQUIRE(c->updates.size() == 1);
  CHECK(c->updates[0].memory_bytes == 256LL << 20);
  CHECK(c->updates[0].memory_swap == 256LL << 20);
  CHECK(c->updates[0].nano_cpus == 0);

  auto j = h.Acquire("js");
  REQUIRE(j->Wait().ok());
  CHECK(j->Wait()->start_path() == StartPath::kContainer);
}

TEST_CASE("stem cells: a failure before /_/specialize was sent falls back to a new container",
          "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  std::string cell = h.Cells().begin()->first;
  SECTION("no answer") {
    h.specializer.AnswerWith(0);
  }
  SECTION("the update is refused") {
    h.docker.FailCalls("UpdateContainer", core::Error::InvalidArgument("no"));
  }
  Deployment d = h.Function("alpha");
  d.memory_bytes = 256LL << 20;
  REQUIRE(h.pool->Apply(d).ok());
  auto a = h.Acquire("alpha");
  auto& lease = a->Wait();
  REQUIRE(lease.ok());
  CHECK(lease->start_path() == StartPath::kContainer);
  CHECK(lease->replica_id() != cell);
  CHECK_FALSE(h.docker.Find(cell).has_value());  // the cell is gone, not handed out again
  auto c = h.docker.Find(lease->replica_id());
  REQUIRE(c.has_value());
  CHECK(c->spec.labels.at(kFunctionLabel) == "alpha");
  CHECK(c->spec.memory_bytes == 256LL << 20);
}

TEST_CASE("stem cells: a handler that fails to load in the cell is a failed start", "[stem]") {
  StemHarness h;
  h.pool->SetStemImage("python3", "gantry/stem:python3", 1);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  std::string cell = h.Cells().begin()->first;
  h.specializer.AnswerWith(502);
  REQUIRE(h.pool->Apply(h.Function("alpha")).ok());
  auto a = h.Acquire("alpha");
  REQUIRE_FALSE(a->Wait().ok());
  CHECK_THAT(a->Wait().error().message(), Catch::Contains("boom"));
  h.pool->Flush();
  CHECK_FALSE(h.docker.Find(cell).has_value());
  auto s = h.pool->Describe("default", "alpha");
  REQUIRE(s.ok());
  CHECK(s->failures_in_a_row == 1);
}

TEST_CASE("stem cells: a failing create backs off and is bounded", "[stem]") {
  StemHarness h;
  h.docker.FailCalls("StartContainer", core::Error::Internal("no"));
  h.pool->SetStemImage("python3", "gantry/stem:python3", 2);
  REQUIRE(h.pool->Start({}).ok());
  h.pool->Flush();
  int creates = h.docker.CountCalls("CreateContainer");
  CHECK(creates == 2);  // both at once, then one at a time after the back-off
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.docker.CountCalls("CreateContainer") == creates);  // back-off: no new create yet
  CHECK(h.Cells().empty());                                  // the failed ones are removed
  h.docker.ClearFailure("StartContainer");
  h.clock.Advance(5s);
  h.pool->Reconcile();
  h.pool->Flush();
  h.pool->Reconcile();
  h.pool->Flush();
  CHECK(h.pool->FreeStemCells().at("python3") == 2);
}

TEST_CASE("stem cells: Start adopts specialised cells by their marker and removes the rest",
          "[stem]") {
  StemHarness h;
  auto cell = [&](const std::string& key, std::optional<StemOwner> owner) {
    ReplicaPaths paths = PathsFor(h.run_dir, key);
    fs::create_directories(paths.socket_dir);
    if (owner) REQUIRE(WriteStemOwner(paths, *owner).ok());
    return h.docker.AddRunning(StemCellContainerSpec("python3", "gantry/stem:python3", key, paths,
                                                     h.options.extra_labels, 2, {}, "bridge"));
  };
  std::string mine = cell("r00000000a1", StemOwner{"default", "alpha", 1});
  std::string stale = cell("r00000000a2", StemOwner{"default", "alpha", 0});  // old generation
  std::string gone = cell("r00000000a3", StemOwner{"default", "deleted", 1});
  std::string free = cell("r00000000a4", std::nullopt);

  Deployment d = h.Function("alpha");
  REQUIRE(h.pool->Start({d}).ok());
  CHECK(h.docker.Find(mine).has_value());
  CHECK_FALSE(h.docker.Find(stale).has_value());
  CHECK_FALSE(h.docker.Find(gone).has_value());
  CHECK_FALSE(h.docker.Find(free).has_value());
  CHECK(fs::exists(h.run_dir + "/r00000000a1"));
  CHECK_FALSE(fs::exists(h.run_dir + "/r00000000a4"));

  auto a = h.Acquire("alpha");
  REQUIRE(a->Wait().ok());
  CHECK(a->Wait()->replica_id() == mine);
  CHECK_FALSE(a->Wait()->cold_start());
  CHECK(h.specializer.sent().empty());
}

TEST_CASE("stem cells: a package tree is copied whole into a cell", "[stem]") {
  StemHarness h;
  ReplicaPaths cell = PathsFor(h.run_dir, "r00000000b1");
  fs::create_directories(StemTaskDir(cell));
  fs::create_directories(StemDepsDir(cell));
  fs::create_directories(h.package_dir + "/task/sub");
  std::ofstream(h.package_dir + "/task/sub/x.txt") << "x";
  REQUIRE(CopyPackageIntoCell(h.package_dir, cell).ok());
  CHECK(fs::exists(StemTaskDir(cell) + "/handler.py"));
  CHECK(fs::exists(StemTaskDir(cell) + "/sub/x.txt"));
  CHECK(fs::exists(StemDepsDir(cell) + "/python/dep.py"));
}

}  // namespace
}  // namespace gantry::pool
