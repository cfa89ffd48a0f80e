// The controller over an in-memory engine (FakeDockerClient, with scripted logs), a real
// SQLite store in a temporary directory and a pool with no control thread: scale bounds,
// bounded logs of this instance's replicas only, and applies racing deletes.
#include "daemon/controller.h"

#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "builder/bundle.h"
#include "daemon/resource_api.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "support/fake_docker_client.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using nlohmann::json;

// FakeDockerClient, whose containers each write `lines_per_container` lines (the last
// `tail` of them when asked for a tail, as the engine does).
class LoggingDocker final : public docker::DockerClient {
 public:
  testing::FakeDockerClient fake;
  int64_t lines_per_container = 0;
  std::string text;  // each line's text when set (else "<container id> line <n>")
  std::atomic<int64_t> last_tail{-1};

  core::Status Logs(std::string_view id, const docker::LogsOptions& options,
                    const docker::LogLineFn& on_line, std::stop_token) override {
    last_tail = options.tail.value_or(0);
    int64_t first = options.tail ? std::max<int64_t>(0, lines_per_container - *options.tail) : 0;
    for (int64_t i = first; i < lines_per_container; ++i) {
      std::string line = fmt::format("2026-01-01T00:{:02}:{:02}.{:09}Z ", i / 60'000'000 % 60,
                                     i / 1'000'000 % 60, i % 1'000'000);
      line += text.empty() ? fmt::format("{} line {}", id, i) : text;
      if (!on_line(docker::Stream::kStdout, line)) break;
    }
    return core::Ok();
  }

  core::Status Ping() override { return fake.Ping(); }
  core::Result<docker::VersionInfo> Version() override { return fake.Version(); }
  core::Result<docker::EngineInfo> Info() override { return fake.Info(); }
  std::string ApiVersion() const override { return fake.ApiVersion(); }
  core::Result<std::string> BuildImage(const docker::BuildOptions& o, const docker::BodyReader& c,
                                       const docker::BuildProgressFn& p) override {
    return fake.BuildImage(o, c, p);
  }
  core::Result<docker::ImageInfo> InspectImage(std::string_view name) override {
    return fake.InspectImage(name);
  }
  core::Result<std::vector<docker::ImageInfo>> ListImages(const docker::LabelSelector& l) override {
    return fake.ListImages(l);
  }
  core::Status RemoveImage(std::string_view name, bool force) override {
    return fake.RemoveImage(name, force);
  }
  core::Result<std::string> ImportImage(const docker::ImportOptions& o,
                                        const docker::BodyReader& r) override {
    return fake.ImportImage(o, r);
  }
  core::Result<std::string> CreateContainer(const docker::ContainerSpec& s) override {
    return fake.CreateContainer(s);
  }
  core::Status StartContainer(std::string_view id) override { return fake.StartContainer(id); }
  core::Result<docker::ContainerInfo> InspectContainer(std::string_view id) override {
    return fake.InspectContainer(id);
  }
  core::Status StopContainer(std::string_view id, int t) override {
    return fake.StopContainer(id, t);
  }
  core::Status KillContainer(std::string_view id, std::string_view s) override {
    return fake.KillContainer(id, s);
  }
  core::Status RemoveContainer(std::string_view id, const docker::RemoveOptions& o) override {
    return fake.RemoveContainer(id, o);
  }
  core::Status PauseContainer(std::string_view id) override { return fake.PauseContainer(id); }
  core::Status UnpauseContainer(std::string_view id) override { return fake.UnpauseContainer(id); }
  core::Result<docker::WaitResult> WaitContainer(std::string_view id) override {
    return fake.WaitContainer(id);
  }
  core::Result<std::vector<docker::ContainerSummary>> ListContainers(const docker::LabelSelector& l,
                                                                     bool all) override {
    return fake.ListContainers(l, all);
  }
  core::Result<std::string> CreateNetwork(const docker::NetworkSpec& n) override {
    return fake.CreateNetwork(n);
  }
  core::Result<docker::NetworkInfo> InspectNetwork(std::string_view n) override {
    return fake.InspectNetwork(n);
  }
  core::Result<std::vector<docker::NetworkInfo>> ListNetworks(const docker::LabelSelector& l) override {
    return fake.ListNetworks(l);
  }
  core::Status RemoveNetwork(std::string_view n) override { return fake.RemoveNetwork(n); }
  core::Status Events(const docker::EventsOptions& o, const docker::EventFn& f,
                      std::stop_token s) override {
    return fake.Events(o, f, s);
  }
};

spec::FunctionSpec WebSpec(int min, int max) {
  std::string yaml = fmt::format(
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: web\n  namespace: "
      "team\nspec:\n"
      "  runtime: image\n  image: example/web:1\n  port: 8080\n  scale: {{min: {}, max: {}}}\n",
      min, max);
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(local, yaml, "web.yaml", "/nonexistent", {});
  for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
  REQUIRE(loaded.objects.size() == 1);
  return std::get<spec::FunctionSpec>(loaded.objects[0].object);
}

struct Harness {
  explicit Harness(ControllerOptions options = {}) {
    char dir[] = "/tmp/gantry-controller-unit.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    state_dir = dir;
    auto opened = store::Store::Open(state_dir + "/gantry.db");
    REQUIRE(opened.ok());
    store = std::move(*opened);
    builder = std::make_unique<builder::Builder>(
        docker, builder::BuilderOptions{.instance_id = "aaaa1111"});
    pool = std::make_unique<pool::Pool>(docker, pool::PoolOptions{.run_dir = state_dir + "/run",
                                                                  .instance_id = "aaaa1111",
                                                                  .control_loop = false,
                                                                  .watch_events = false,
                                                                  // A unit test mounts nothing.
                                                                  .socket_dir_bytes = 0});
    options.state_dir = state_dir;
    options.identity = {"gantry.instance=aaaa1111"};
    controller = std::make_unique<Controller>(*store, *builder, *pool, docker, options);
    REQUIRE(controller->Start().ok());
  }
  ~Harness() {
    controller.reset();
    pool.reset();
    std::error_code ignored;
    fs::remove_all(state_dir, ignored);
  }

  // A container of ns/web labelled as instance `instance` made it.
  std::string AddReplica(const std::string& instance) {
    docker::ContainerSpec spec;
    spec.name = "replica-" + std::to_string(++replicas);
    spec.labels = {
        {"gantry.function", "web"}, {"gantry.namespace", "team"}, {"gantry.instance", instance}};
    return docker.fake.AddRunning(spec);
  }

  LoggingDocker docker;
  std::string state_dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<builder::Builder> builder;
  std::unique_ptr<pool::Pool> pool;
  std::unique_ptr<Controller> controller;
  int replicas = 0;
};

TEST_CASE("controller: scale outside the function's [min, max] is a 400 naming the bounds",
          "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(WebSpec(1, 4), "sha256:web").ok());
  for (int64_t replicas : {int64_t{0}, int64_t{5}, int64_t{8}, int64_t{1'000'000'000},
                           int64_t{4'294'967'297}, int64_t{-4'294'967'295}}) {
    INFO("replicas " << replicas);
    auto s = h.controller->Scale("team", "web", replicas);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(s.error().message(), Catch::Contains("[1, 4]"));
  }
  CHECK(h.controller->Scale("team", "web", 4).ok());
  CHECK(h.controller->Scale("nope", "web", 1).error().code() == ErrorCode::kNotFound);
}

TEST_CASE("resource API: replicas is a whole number that fits, never truncated", "[daemon]") {
  struct Case {
    const char* body;
    bool ok;
    int64_t value;
  };
  for (const Case& c :
       {Case{R"({"replicas": 3})", true, 3}, Case{R"({"replicas": -1})", true, -1},
        Case{R"({"replicas": 4294967297})", true, 4294967297},
        Case{R"({"replicas": 9223372036854775807})", true, INT64_MAX},
        Case{R"({"replicas": 9223372036854775808})", false, 0},
        Case{R"({"replicas": 18446744073709551616})", false, 0},
        Case{R"({"replicas": 1.5})", false, 0}, Case{R"({"replicas": "3"})", false, 0},
        Case{R"({"replicas": null})", false, 0}, Case{R"({})", false, 0}}) {
    INFO(c.body);
    auto r = ReplicasField(json::parse(c.body));
    REQUIRE(r.ok() == c.ok);
    if (c.ok) CHECK(*r == c.value);
    if (!c.ok) CHECK(r.error().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("controller: logs read only this instance's replicas and stay within the byte bound",
          "[daemon]") {
  Harness h({.max_log_tail = 50'000, .max_log_bytes = 256 * 1024});
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 4), "sha256:web").ok());
  std::string mine1 = h.AddReplica("aaaa1111");
  std::string mine2 = h.AddReplica("aaaa1111");
  std::string theirs = h.AddReplica("bbbb2222");
  h.docker.lines_per_container = 200'000;  // ~20 MB of entries a replica

  auto logs = h.controller->Logs("team", "web", /*tail=*/0, /*since_unix=*/0);
  REQUIRE(logs.ok());
  CHECK(h.docker.last_tail == 50'000);  // no tail asked: the engine tails at the cap
  CHECK(logs->size() <= 256 * 1024 + 1024);
  std::istringstream in(*logs);
  std::string first;
  std::getline(in, first);
  json note = json::parse(first);
  CHECK(note["instance"] == "gantry");
  CHECK_THAT(note["text"].get<std::string>(), Catch::Contains("left out"));
  int lines = 0;
  std::string previous;
  for (std::string line; std::getline(in, line); ++lines) {
    json e = json::parse(line);
    CHECK(e["timestamp"].get<std::string>() >= previous);
    previous = e["timestamp"];
    // (The fake's ids share their first 12 characters: the text names the whole id.)
    CHECK_THAT(e["text"].get<std::string>(), !Catch::Contains(theirs));
    CHECK_THAT(e["text"].get<std::string>(), Catch::Contains(mine1) || Catch::Contains(mine2));
  }
  CHECK(lines > 1000);
  CHECK_THAT(previous, Catch::Contains("00:00:00.000199999"));  // the newest line is there

  // A small tail fits whole: no note.
  auto tail = h.controller->Logs("team", "web", /*tail=*/10, 0);
  REQUIRE(tail.ok());
  CHECK(h.docker.last_tail == 10);
  std::istringstream tin(*tail);
  int n = 0;
  for (std::string line; std::getline(tin, line); ++n)
    CHECK(json::parse(line)["instance"] != "gantry");
  CHECK(n == 20);  // 10 of each of this instance's two replicas
}

TEST_CASE("controller: function output that is not UTF-8 is a logs line, not an error",
          "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 4), "sha256:web").ok());
  h.AddReplica("aaaa1111");
  h.docker.lines_per_container = 3;
  h.docker.text = "caf\xc3 \xff\xfe binary";
  auto logs = h.controller->Logs("team", "web", 0, 0);
  REQUIRE(logs.ok());
  std::istringstream in(*logs);
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    json e = json::parse(line);
    CHECK_THAT(e["text"].get<std::string>(), Catch::Contains("binary"));
  }
  CHECK(n == 3);
}

TEST_CASE("controller: an unchanged apply racing deletes answers, never throws", "[daemon]") {
  Harness h;
  const std::string bundle = "not a tar: only its digest matters on the unchanged path";
  const std::string digest = builder::BundleDigest(bundle);
  spec::FunctionSpec spec = WebSpec(0, 2);
  REQUIRE(h.controller->ApplySpec(spec, digest).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> unchanged{0};
  std::thread applies([&] {
    while (!stop) {
      auto r = h.controller->ApplyBundle("team", "web", bundle, /*dry_run=*/false);
      if (r.ok() && r->result == "unchanged") ++unchanged;
    }
  });
  // The old code threw bad_variant_access in 4 runs of 5 at this count (1 in 5 at 300).
  for (int i = 0; i < 2000; ++i) {
    auto deleted = h.controller->Delete("team", "web");
    CHECK((deleted.ok() || deleted.error().code() == ErrorCode::kNotFound));
    REQUIRE(h.controller->ApplySpec(spec, digest).ok());
  }
  stop = true;
  applies.join();
  CHECK(unchanged > 0);
}

}  // namespace
}  // namespace gantry::daemon
