// The Engine API client against the real engine (CTest label "integration"). Every object
// carries the test's gantry.test label and is removed by TestEngine even when a check fails.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/engine.h"
#include "support/tar.h"

namespace gantry::docker {
namespace {

using core::ErrorCode;
using testing::MakeTar;
using testing::TestEngine;

constexpr const char* kBase = "gantry/base:bookworm";

double NowUnix() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

struct Output {
  std::vector<std::string> out;
  std::vector<std::string> err;
  bool Has(const std::vector<std::string>& lines, const std::string& l) const {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  }
};

Output ReadLogs(DockerClient& docker, const std::string& id, LogsOptions options = {}) {
  Output o;
  auto s = docker.Logs(id, options, [&](Stream stream, std::string_view line) {
    (stream == Stream::kStderr ? o.err : o.out).emplace_back(line);
    return true;
  });
  REQUIRE(s.ok());
  return o;
}

// Runs `script` with /bin/sh in a labelled container and returns its id (started).
std::string RunShell(TestEngine& engine, const std::string& name, const std::string& script,
                     ContainerSpec spec = {}) {
  spec.name = engine.Name(name);
  spec.image = kBase;
  spec.cmd = {"/bin/sh", "-c", script};
  spec.labels = engine.labels();
  auto id = engine.client().CreateContainer(spec);
  REQUIRE(id.ok());
  REQUIRE(engine.client().StartContainer(*id).ok());
  return *id;
}

TEST_CASE("the engine answers and the API version is pinned", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  REQUIRE(docker.Ping().ok());
  auto version = docker.Version();
  REQUIRE(version.ok());
  CHECK_FALSE(version->version.empty());
  CHECK(docker.ApiVersion() == *NegotiateApiVersion(version->api_version));
  auto info = docker.Info();
  REQUIRE(info.ok());
  CHECK(info->ncpu > 0);
  CHECK_FALSE(info->storage_driver.empty());
  REQUIRE(docker.InspectImage(kBase).ok());  // scripts/base-images made it
}

TEST_CASE("an image builds from an in-memory context and is found by its label",
          "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::string context = MakeTar({
      {"Dockerfile", std::string("FROM ") + kBase +
                         "\nCOPY hello.sh /hello.sh\nRUN chmod 0755 /hello.sh\n"
                         "CMD [\"/hello.sh\"]\n"},
      {"hello.sh", "#!/bin/sh\necho \"hello from $(cat /etc/debian_version | cut -d. -f1)\"\n"},
  });
  std::string tag = "gantry-test/hello:" + engine.value();
  std::vector<std::string> progress;
  auto id = docker.BuildImage({.tags = {tag}, .labels = engine.labels()}, ReadFromString(context),
                              [&](std::string_view line) { progress.emplace_back(line); });
  REQUIRE(id.ok());
  CHECK_THAT(*id, Catch::StartsWith("sha256:"));
  CHECK(std::any_of(progress.begin(), progress.end(), [](const std::string& l) {
    return l.rfind("Step 1/", 0) == 0 && l.find(" : FROM ") != std::string::npos;
  }));

  auto image = docker.InspectImage(tag);
  REQUIRE(image.ok());
  CHECK(image->id == *id);
  CHECK(image->labels.at(testing::kTestLabel) == engine.value());
  auto listed = docker.ListImages({engine.selector()});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].id == *id);

  // The image runs.
  ContainerSpec spec{.name = engine.Name("hello"), .image = tag, .labels = engine.labels()};
  auto c = docker.CreateContainer(spec);
  REQUIRE(c.ok());
  REQUIRE(docker.StartContainer(*c).ok());
  auto wait = docker.WaitContainer(*c);
  REQUIRE(wait.ok());
  CHECK(wait->exit_code == 0);
  Output o = ReadLogs(docker, *c);
  CHECK(o.out == std::vector<std::string>{"hello from 12"});
  REQUIRE(docker.RemoveContainer(*c, {}).ok());

  REQUIRE(docker.RemoveImage(tag, /*force=*/false).ok());
  auto gone = docker.InspectImage(tag);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == ErrorCode::kNotFound);
}

TEST_CASE("a failing build names the step and the engine's message", "[integration][docker]") {
  TestEngine engine;
  std::string context =
      MakeTar({{"Dockerfile", std::string("FROM ") + kBase +
                                  "\nRUN echo preparing\nRUN echo about to fail && exit 7\n"}});
  auto id = engine.client().BuildImage(
      {.tags = {"gantry-test/broken:" + engine.value()}, .labels = engine.labels()},
      ReadFromString(context), nullptr);
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().code() == ErrorCode::kInvalidArgument);
  const std::string& msg = id.error().message();
  // The labels add a step at the end: 3 of 4.
  CHECK_THAT(msg, Catch::StartsWith(
                      "POST /build: step 3/4 \"RUN echo about to fail && exit 7\" failed: "));
  CHECK_THAT(msg, Catch::Contains("returned a non-zero code: 7"));
  CHECK_THAT(msg, Catch::EndsWith("\n  about to fail"));
  CHECK_THAT(msg, !Catch::Contains("preparing"));

  auto bad_syntax = engine.client().BuildImage(
      {.labels = engine.labels()}, ReadFromString(MakeTar({{"Dockerfile", "FROMM nothing\n"}})),
      nullptr);
  REQUIRE_FALSE(bad_syntax.ok());
  CHECK_THAT(bad_syntax.error().message(),
             Catch::Contains("FROMM") || Catch::Contains("unknown instruction"));
}

TEST_CASE("a container runs with limits and labels, then logs, pause, stop, events and remove work",
          "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  double t0 = NowUnix() - 1;

  ContainerSpec spec;
  spec.env = {"GREETING=hi there"};
  spec.user = "65534:65534";
  spec.working_dir = "/tmp";
  spec.memory_bytes = 64 << 20;
  spec.nano_cpus = 500'000'000;
  spec.pids_limit = 32;
  spec.read_only_rootfs = true;
  spec.mounts = {{.type = Mount::Type::kTmpfs, .target = "/tmp", .tmpfs_size_bytes = 8 << 20}};
  spec.cap_drop = {"ALL"};
  spec.security_opt = {"no-new-privileges"};
  spec.init = true;
  spec.network_mode = "none";
  std::string id = RunShell(
      engine, "limits",
      "echo \"$GREETING\"; id -u; pwd; echo oops >&2; "
      "touch /tmp/ok && echo tmp-writable; touch /etc/x 2>/dev/null || echo rootfs-readonly; "
      "while :; do sleep 0.1; done",
      spec);

  auto info = docker.InspectContainer(id);
  REQUIRE(info.ok());
  CHECK(info->state.running);
  CHECK(info->labels.at(testing::kTestLabel) == engine.value());
  CHECK(info->memory_bytes == 64 << 20);
  CHECK(info->nano_cpus == 500'000'000);
  CHECK(info->pids_limit == 32);
  CHECK(info->read_only_rootfs);
  CHECK(info->network_mode == "none");

  // Wait until the script has printed its lines.
  Output o;
  for (int i = 0; i < 100 && !o.Has(o.out, "rootfs-readonly"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    o = ReadLogs(docker, id);
  }
  CHECK(o.out ==
        std::vector<std::string>{"hi there", "65534", "/tmp", "tmp-writable", "rootfs-readonly"});
  CHECK(o.err == std::vector<std::string>{"oops"});
  CHECK(ReadLogs(docker, id, {.stderr_stream = false}).err.empty());
  // The engine's tail reads the json-file log back from its end, which under load can lag
  // the follow reader above by a moment (once seen in CI: an empty tail): polled too.
  Output last = ReadLogs(docker, id, {.tail = 1});
  for (int i = 0; i < 40 && last.out.empty() && last.err.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    last = ReadLogs(docker, id, {.tail = 1});
  }
  CHECK(last.out == std::vector<std::string>{"rootfs-readonly"});

  REQUIRE(docker.PauseContainer(id).ok());
  CHECK(docker.InspectContainer(id)->state.paused);
  REQUIRE(docker.UnpauseContainer(id).ok());
  CHECK_FALSE(docker.InspectContainer(id)->state.paused);

  REQUIRE(docker.StopContainer(id, 1).ok());
  CHECK(docker.InspectContainer(id)->state.status == "exited");
  CHECK(docker.StopContainer(id, 1).ok());  // stopping a stopped container is fine

  // The events of this container, replayed from t0 up to now.
  std::vector<std::string> actions;
  auto s = docker.Events({.labels = {engine.selector()},
                          .types = {"container"},
                          .since_unix = t0,
                          .until_unix = NowUnix() + 0.5},
                         [&](const Event& e) {
                           if (e.id == id) actions.push_back(e.action);
                           return true;
                         });
  REQUIRE(s.ok());
  for (const char* expected : {"create", "start", "pause", "unpause", "die", "stop"}) {
    INFO("event " << expected);
    CHECK(std::find(actions.begin(), actions.end(), expected) != actions.end());
  }

  REQUIRE(docker.RemoveContainer(id, {}).ok());
  auto gone = docker.InspectContainer(id);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == ErrorCode::kNotFound);
  CHECK_THAT(gone.error().message(),
             Catch::StartsWith("GET /containers/") && Catch::Contains("No such container"));
}

TEST_CASE("events stream live and stop when asked", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::atomic<bool> subscribed{false};
  std::vector<std::string> seen;
  std::string died_exit_code;
  std::thread watcher([&] {
    auto s = docker.Events(
        {.labels = {engine.selector()}, .types = {"container"}, .since_unix = NowUnix() - 1},
        [&](const Event& e) {
          seen.push_back(e.action);
          if (e.action == "die") {
            died_exit_code = e.attributes.count("exitCode") ? e.attributes.at("exitCode") : "";
            return false;  // done
          }
          return true;
        });
    CHECK(s.ok());
  });
  std::string id = RunShell(engine, "events", "exit 3");
  watcher.join();
  CHECK(std::find(seen.begin(), seen.end(), "start") != seen.end());
  CHECK(died_exit_code == "3");
  auto wait = docker.WaitContainer(id);
  REQUIRE(wait.ok());
  CHECK(wait->exit_code == 3);

  // With nothing happening, a stop request ends the stream with kCancelled.
  std::stop_source stop;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request_stop();
  });
  auto cancelled = docker.Events(
      {.labels = {engine.selector() + "-nothing"}}, [](const Event&) { return true; },
      stop.get_token());
  canceller.join();
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.error().code() == ErrorCode::kCancelled);
}

TEST_CASE("followed logs arrive incrementally and end when the container exits",
          "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::string id = RunShell(engine, "follow",
                            "for i in 1 2 3 4 5; do echo line $i; sleep 0.05; done; echo done >&2");
  std::vector<std::string> lines;
  auto s = docker.Logs(id, {.follow = true}, [&](Stream stream, std::string_view line) {
    lines.push_back((stream == Stream::kStderr ? "err: " : "") + std::string(line));
    return true;
  });
  REQUIRE(s.ok());
  CHECK(lines ==
        std::vector<std::string>{"line 1", "line 2", "line 3", "line 4", "line 5", "err: done"});

  // A consumer that has seen enough stops a followed stream of a running container.
  std::string forever =
      RunShell(engine, "forever", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done");
  int ticks = 0;
  auto stopped =
      docker.Logs(forever, {.follow = true}, [&](Stream, std::string_view) { return ++ticks < 3; });
  REQUIRE(stopped.ok());
  CHECK(ticks == 3);
  REQUIRE(docker.KillContainer(forever, "SIGKILL").ok());
}

TEST_CASE("bind mounts and loopback-published ports", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::filesystem::path dir = std::filesystem::temp_directory_path() / engine.Name("bind");
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "greeting") << "from the host\n"; }
  std::string id = RunShell(
      engine, "bind", "cat /data/greeting; touch /data/x 2>/dev/null || echo read-only; sleep 30",
      ContainerSpec{.mounts = {{.source = dir.string(), .target = "/data", .read_only = true}},
                    .ports = {{.container_port = 8080}}});
  auto info = docker.InspectContainer(id);
  REQUIRE(info.ok());
  REQUIRE(info->host_ports.count("8080/tcp") == 1);
  CHECK(info->host_ports.at("8080/tcp") > 0);
  REQUIRE(docker.KillContainer(id, "SIGKILL").ok());
  REQUIRE(docker.WaitContainer(id).ok());
  Output o = ReadLogs(docker, id);
  CHECK(o.out == std::vector<std::string>{"from the host", "read-only"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("a network is created, found by name and label, used, and removed once empty",
          "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  const std::string name = engine.Name("net");
  docker::Labels labels = engine.labels();
  auto id = docker.CreateNetwork({.name = name,
                                  .labels = labels,
                                  .options = {{"com.docker.network.bridge.enable_icc", "false"}}});
  REQUIRE(id.ok());
  auto again = docker.CreateNetwork({.name = name, .labels = labels});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == ErrorCode::kConflict);

  auto info = docker.InspectNetwork(name);
  REQUIRE(info.ok());
  CHECK(info->id == *id);
  CHECK(info->name == name);
  CHECK(info->driver == "bridge");
  CHECK(info->labels.at(testing::kTestLabel) == engine.value());
  CHECK(info->options.at("com.docker.network.bridge.enable_icc") == "false");
  REQUIRE(info->gateways.size() == 1);
  REQUIRE(info->subnets.size() == 1);
  auto listed = docker.ListNetworks({engine.selector()});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].id == *id);

  std::string c = RunShell(engine, "on-net", "sleep 30", ContainerSpec{.network_mode = name});
  auto attached = docker.InspectNetwork(name);
  REQUIRE(attached.ok());
  REQUIRE(attached->containers.count(c) == 1);
  auto summary = docker.ListContainers({engine.selector()}, true);
  REQUIRE(summary.ok());
  REQUIRE(summary->size() == 1);
  CHECK((*summary)[0].network_mode == name);
  auto busy = docker.RemoveNetwork(name);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().code() == ErrorCode::kConflict);  // the engine's 403 "active endpoints"

  REQUIRE(docker.RemoveContainer(c, {.force = true}).ok());
  REQUIRE(docker.RemoveNetwork(name).ok());
  CHECK(docker.InspectNetwork(name).error().code() == ErrorCode::kNotFound);
  CHECK(docker.RemoveNetwork(name).error().code() == ErrorCode::kNotFound);
}

TEST_CASE("engine errors come back typed with the engine's message", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();

  auto missing = docker.InspectContainer("gantry-test-does-not-exist");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);

  auto no_image = docker.CreateContainer({.name = engine.Name("noimage"),
                                          .image = "gantry-test/none:missing",
                                          .labels = engine.labels()});
  REQUIRE_FALSE(no_image.ok());
  CHECK(no_image.error().code() == ErrorCode::kNotFound);
  CHECK_THAT(no_image.error().message(), Catch::Contains("No such image"));

  ContainerSpec spec{
      .name = engine.Name("dup"), .image = kBase, .cmd = {"true"}, .labels = engine.labels()};
  auto first = docker.CreateContainer(spec);
  REQUIRE(first.ok());
  auto second = docker.CreateContainer(spec);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code() == ErrorCode::kConflict);
  CHECK_THAT(second.error().message(),
             Catch::StartsWith("POST /containers/create: ") && Catch::Contains("in use"));

  auto kill_stopped = docker.KillContainer(*first, "SIGKILL");
  REQUIRE_FALSE(kill_stopped.ok());
  CHECK(kill_stopped.error().code() == ErrorCode::kConflict);

  auto bad =
      docker.CreateContainer({.image = kBase, .labels = engine.labels(), .memory_bytes = 1024});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("the client serves several threads at once", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!docker.Ping().ok() || !docker.ListContainers({engine.selector()}, true).ok())
          ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
}

TEST_CASE("a root filesystem tarball imports as an image", "[integration][docker]") {
  TestEngine engine;
  DockerClient& docker = engine.client();
  std::string rootfs = MakeTar({{"etc/motd", "imported\n"}});
  std::string repo = "gantry-test/imported";
  auto id = docker.ImportImage({.repo = repo,
                                .tag = engine.value(),
                                .changes = {"LABEL " + engine.selector(), "CMD [\"/nothing\"]"}},
                               ReadFromString(rootfs));
  REQUIRE(id.ok());
  auto image = docker.InspectImage(repo + ":" + engine.value());
  REQUIRE(image.ok());
  CHECK(image->id == *id);
  CHECK(image->labels.at(testing::kTestLabel) == engine.value());
}

TEST_CASE("an unreachable engine is kUnavailable, naming the socket", "[integration][docker]") {
  auto client = CurlDockerClient::Connect({.docker_host = "unix:///nonexistent/docker.sock"});
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code() == ErrorCode::kUnavailable);
  CHECK_THAT(client.error().message(), Catch::Contains("unix:///nonexistent/docker.sock"));
}

}  // namespace
}  // namespace gantry::docker
