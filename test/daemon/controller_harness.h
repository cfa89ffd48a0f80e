#pragma once
// The controller over an in-memory engine (FakeDockerClient, with scripted logs), a real
// SQLite store in a temporary directory on a ManualClock, and a pool with no control
// thread: what the controller and API translation tests run against.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "builder/builder.h"
#include "core/clock.h"
#include "daemon/controller.h"
#include "daemon/function_events.h"
#include "daemon/function_logs.h"
#include "logstore/log_store.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "pool/pool.h"
#include "store/store.h"
#include "support/fake_docker_client.h"

namespace gantry::daemon::testing {

// FakeDockerClient, whose containers each write `lines_per_container` lines (the last
// `tail` of them when asked for a tail, as the engine does).
class LoggingDocker final : public docker::DockerClient {
 public:
  gantry::testing::FakeDockerClient fake;
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
  core::Result<std::vector<docker::NetworkInfo>> ListNetworks(
      const docker::LabelSelector& l) override {
    return fake.ListNetworks(l);
  }
  core::Status RemoveNetwork(std::string_view n) override { return fake.RemoveNetwork(n); }
  core::Status Events(const docker::EventsOptions& o, const docker::EventFn& f,
                      std::stop_token s) override {
    return fake.Events(o, f, s);
  }
};

// team/web, a `runtime: image` function scaled [min, max]; `extra` is more spec lines
// ("  secrets: [key]\n").
inline spec::FunctionSpec WebSpec(int min, int max, const std::string& extra = "") {
  std::string yaml = fmt::format(
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: web\n  namespace: "
      "team\nspec:\n"
      "  runtime: image\n  image: example/web:1\n  port: 8080\n  scale: {{min: {}, max: {}}}\n{}",
      min, max, extra);
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
    auto opened = store::Store::Open(state_dir + "/gantry.db", {.clock = &clock});
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
    events = std::make_unique<FunctionEvents>(*store);
    if (options.events == nullptr) options.events = events.get();
    controller = std::make_unique<Controller>(*store, *builder, *pool, docker, options);
    REQUIRE(controller->Start().ok());
    logs = std::make_unique<FunctionLogs>(*store, log_store, &clock);
  }
  ~Harness() {
    controller.reset();
    pool.reset();
    events.reset();
    std::error_code ignored;
    std::filesystem::remove_all(state_dir, ignored);
  }

  // A container of ns/web labelled as instance `instance` made it.
  std::string AddReplica(const std::string& instance) {
    docker::ContainerSpec spec;
    spec.name = "replica-" + std::to_string(++replicas);
    spec.labels = {
        {"gantry.function", "web"}, {"gantry.namespace", "team"}, {"gantry.instance", instance}};
    return docker.fake.AddRunning(spec);
  }

  core::ManualClock clock;  // the store's
  LoggingDocker docker;
  std::string state_dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<FunctionEvents> events;  // the controller's, unless the options name others
  std::unique_ptr<builder::Builder> builder;
  std::unique_ptr<pool::Pool> pool;
  std::unique_ptr<Controller> controller;
  logstore::LogStore log_store{{.clock = &clock}};
  std::unique_ptr<FunctionLogs> logs;  // over `store` and `log_store`
  int replicas = 0;
};

}  // namespace gantry::daemon::testing
