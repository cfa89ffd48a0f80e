// Stem cells in real containers (CTest label "integration"), the shim's side of protocol14:
// the stem images built by Builder::BuildStem for python3, node and exec; a container of
// each with the protocol's mounts (host directories the test fills, as gantryd does, after
// the cell is up and before /_/specialize); ready as a stem, specialised once, then serving
// the function's code with its dependencies, env and limits; a handler that fails to import
// answers 502 with why. Images and containers carry the test's gantry.test label and are
// removed even when a check fails; the host directories are removed by the test.
// The hidden case "[.][bench]" measures specialisation and the first call (protocol14's
// figures): build/test-bin/stem_shim_integration_test "[bench]".
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "builder/builder.h"
#include "shim_support.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The stem image of `runtime`, built with the test's label (removed with the test's
// objects) from the stripped shim and the checked-in bootstraps.
builder::BuiltImage StemImage(TestEngine& engine, spec::Runtime runtime) {
  builder::BuilderOptions options;
  options.templates.shim_path = GANTRY_SHIM_BINARY;
  options.templates.bootstrap_dir = std::string(GANTRY_SHIM_SOURCE_DIR) + "/bootstrap";
  options.extra_labels = engine.labels();
  builder::Builder builder(engine.client(), options);
  auto image = builder.BuildStem(runtime);
  if (!image.ok()) FAIL("BuildStem: " << image.error().ToString());
  return *image;
}

// One stem cell as the pool makes it: a container of the stem image with the protocol's
// mounts from a host directory of its own (sock/ rw, task/ deps/ secrets/ read-only, tmpfs
// /tmp) and the security defaults of every function container. Removes its directory; the
// TestEngine removes the container.
class Cell {
 public:
  Cell(TestEngine& engine, const std::string& image) : engine_(engine) {
    char dir_template[] = "/tmp/gantry-stem-test.XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    ::chmod(dir_.c_str(), 0755);
    for (const char* sub : {"sock", "task", "deps", "secrets"}) fs::create_directory(dir_ / sub);
    ::chmod((dir_ / "sock").c_str(), 0777);  // the shim runs as nobody

    docker::ContainerSpec spec;
    spec.name = engine.Name("stem");
    spec.image = image;
    spec.labels = engine.labels();
    spec.user = builder::kFunctionUser;
    spec.read_only_rootfs = true;
    spec.cap_drop = {"ALL"};
    spec.security_opt = {"no-new-privileges"};
    spec.network_mode = "none";
    spec.pids_limit = 256;
    spec.memory_bytes = int64_t{256} << 20;
    using Type = docker::Mount::Type;
    spec.mounts = {
        {.type = Type::kBind, .source = (dir_ / "sock").string(), .target = builder::kSocketDir},
        {.type = Type::kBind,
         .source = (dir_ / "task").string(),
         .target = builder::kTaskRoot,
         .read_only = true},
        {.type = Type::kBind,
         .source = (dir_ / "deps").string(),
         .target = "/opt/gantry/deps",
         .read_only = true},
        {.type = Type::kBind,
         .source = (dir_ / "secrets").string(),
         .target = "/var/gantry/secrets",
         .read_only = true},
        {.type = Type::kBind,
         .source = (dir_ / "secrets").string(),
         .target = "/var/openfaas/secrets",
         .read_only = true},
        {.type = Type::kTmpfs, .target = "/tmp"},
    };
    auto id = engine.client().CreateContainer(spec);
    if (!id.ok()) FAIL("create: " << id.error().ToString());
    id_ = *id;
    auto started = engine.client().StartContainer(id_);
    if (!started.ok()) FAIL("start: " << started.error().ToString());
  }
  ~Cell() {
    (void)engine_.client().RemoveContainer(id_, {.force = true});  // the TestEngine would too
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  // Puts a file of the function's package (or a secret) in place, readable by nobody:
  // "task/handler.py", "deps/python/helper.py", "secrets/token".
  void Put(const std::string& relative, const std::string& content, bool executable = false) {
    fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    for (fs::path p = path.parent_path(); p != dir_; p = p.parent_path()) {
      ::chmod(p.c_str(), 0755);
    }
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), executable ? 0755 : 0644);
  }

  ShimReply Call(const std::string& method, const std::string& target, const std::string& body = "",
                 std::chrono::milliseconds timeout = 20s) const {
    return CallUnix((dir_ / "sock/shim.sock").string(), method, target, body, {}, timeout);
  }
  ShimReply Specialize(const json& body) const {
    return Call("POST", "/_/specialize", body.dump(), 40s);
  }

  // Polls /_/ready until it answers 200; false if it doesn't within `limit`.
  bool WaitReady(std::chrono::milliseconds limit = 30s) const {
    auto until = Clock::now() + limit;
    while (Clock::now() < until) {
      if (Call("GET", "/_/ready", "", 2s).status == 200) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // The container's state once it has stopped, or as it is after `limit`.
  docker::ContainerState StateOnceStopped(std::chrono::milliseconds limit = 10s) {
    auto until = Clock::now() + limit;
    for (;;) {
      auto info = engine_.client().InspectContainer(id_);
      REQUIRE(info.ok());
      if (!info->state.running || Clock::now() >= until) return info->state;
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string Logs() {
    std::string text;
    (void)engine_.client().Logs(id_, {}, [&](docker::Stream, std::string_view line) {
      text.append(line);
      text += '\n';
      return true;
    });
    return text;
  }

 private:
  TestEngine& engine_;
  fs::path dir_;
  std::string id_;
};

// A python3 handler that needs its dependency (deps/python), its env and its secret.
void PutPythonFunction(Cell& cell) {
  cell.Put("deps/python/greeter.py", "def greet(name):\n    return 'hello ' + name\n");
  cell.Put("task/handler.py",
           "import os, greeter\n"
           "def main(req):\n"
           "    secret = open('/var/gantry/secrets/token').read()\n"
           "    return '%s from %s (%s) %s pid=%d' % (greeter.greet(req.body), "
           "os.environ['AWS_LAMBDA_FUNCTION_NAME'], os.environ['GREETING'], secret, os.getpid())\n"
           // Answers once two calls run at once (each in a process of its own), or after 10 s.
           "def both(req):\n"
           "    import glob, time\n"
           "    open('/run/gantry/started-%d' % os.getpid(), 'w').close()\n"
           "    until = time.time() + 10\n"
           "    while len(glob.glob('/run/gantry/started-*')) < 2 and time.time() < until:\n"
           "        time.sleep(0.01)\n"
           "    return '%s stem=%s pid=%d' % (os.environ.get('GREETING'), "
           "os.environ.get('GANTRY_STEM'), os.getpid())\n");
  cell.Put("secrets/token", "s3cret");
}

// One image for the python3 cases (a build is ~1 s): a cell per case.
TEST_CASE(
    "stem python3: ready as a stem, specialised once, serves its handler with deps, a "
    "failed import answers 502",
    "[integration][stem]") {
  TestEngine engine;
  auto image = StemImage(engine, spec::Runtime::kPython3);
  CHECK(image.runtime_api);
  {
    Cell cell(engine, image.ref);
    REQUIRE(cell.WaitReady());
    auto early = cell.Call("POST", "/", "too soon");
    CHECK(early.status == 503);
    CHECK_THAT(early.body, Catch::Contains("not specialised"));

    // Filled after the cell is up, before /_/specialize: as gantryd does.
    PutPythonFunction(cell);
    auto bad = cell.Specialize(json{{"maxInflight", "two"}});
    CHECK(bad.status == 400);
    auto specialized = cell.Specialize({{"env",
                                         {{"_HANDLER", "handler.main"},
                                          {"GREETING", "hi"},
                                          {"AWS_LAMBDA_FUNCTION_NAME", "greet"}}},
                                        {"timeout", "10s"},
                                        {"functionName", "greet"}});
    INFO("specialize: " << specialized.status << " " << specialized.body << specialized.error
                        << "\n"
                        << cell.Logs());
    REQUIRE(specialized.status == 200);
    CHECK(json::parse(specialized.body) == json{{"ready", true}});
    CHECK(cell.Call("GET", "/_/ready").status == 200);

    auto call = cell.Call("POST", "/", "world");
    CHECK(call.status == 200);
    CHECK_THAT(call.body, Catch::StartsWith("hello world from greet (hi) s3cret pid="));

    auto again = cell.Specialize({{"env", {{"_HANDLER", "handler.both"}}}});
    CHECK(again.status == 409);
    CHECK_THAT(again.body, Catch::Contains("already specialised"));
  }
  {
    // A handler started after the specialisation gets the function's env directly.
    Cell cell(engine, image.ref);
    REQUIRE(cell.WaitReady());
    PutPythonFunction(cell);
    auto specialized = cell.Specialize(
        {{"env", {{"_HANDLER", "handler.both"}, {"GREETING", "hey"}}}, {"maxInflight", 2}});
    INFO(cell.Logs());
    REQUIRE(specialized.status == 200);
    // Two calls at once: the second runs in a handler started after the specialisation.
    auto first = std::async(std::launch::async, [&] { return cell.Call("GET", "/"); });
    auto second = cell.Call("GET", "/");
    auto one = first.get();
    CHECK(one.status == 200);
    CHECK(second.status == 200);
    CHECK_THAT(one.body, Catch::StartsWith("hey stem=None pid="));
    CHECK_THAT(second.body, Catch::StartsWith("hey stem=None pid="));
    CHECK(one.body != second.body);  // two processes
  }
  {
    Cell cell(engine, image.ref);
    REQUIRE(cell.WaitReady());
    cell.Put("task/handler.py", "import not_installed_anywhere\ndef main(req): return 'no'\n");
    auto failed = cell.Specialize({{"env", {{"_HANDLER", "handler.main"}}}});
    INFO(cell.Logs());
    CHECK(failed.status == 502);
    CHECK_THAT(json::parse(failed.body).value("error", ""),
               Catch::Contains("No module named 'not_installed_anywhere'"));
    // As dead as a replica whose handler fails to import.
    auto state = cell.StateOnceStopped();
    CHECK_FALSE(state.running);
    CHECK(state.exit_code == 3);
  }
}

TEST_CASE("stem node: specialised, requires its handler and its dependency",
          "[integration][stem]") {
  TestEngine engine;
  auto image = StemImage(engine, spec::Runtime::kNode);
  Cell cell(engine, image.ref);
  REQUIRE(cell.WaitReady());
  CHECK(cell.Call("GET", "/").status == 503);
  cell.Put("deps/node/node_modules/shout/index.js",
           "module.exports = (s) => s.toUpperCase() + '!';\n");
  cell.Put("task/index.js",
           "const shout = require('shout');\n"
           "exports.handler = async (req) => `${shout(req.body)} ${process.env.GREETING} ` +\n"
           "  `${process.cwd()} ${process.env.GANTRY_STEM}`;\n");
  auto specialized =
      cell.Specialize({{"env", {{"_HANDLER", "index.handler"}, {"GREETING", "hola"}}}});
  INFO(cell.Logs());
  REQUIRE(specialized.status == 200);
  auto call = cell.Call("POST", "/", "world");
  CHECK(call.status == 200);
  CHECK(call.body == "WORLD! hola /var/task undefined");
  CHECK(cell.Specialize(json::object()).status == 409);
}

TEST_CASE("stem exec: the command and limits come with the specialisation", "[integration][stem]") {
  TestEngine engine;
  auto image = StemImage(engine, spec::Runtime::kExec);
  CHECK_FALSE(image.runtime_api);
  Cell cell(engine, image.ref);
  REQUIRE(cell.WaitReady());
  CHECK(cell.Call("POST", "/", "x").status == 503);
  cell.Put("task/handler.sh", "#!/bin/sh\nprintf '%s:' \"$GREETING\"\ncat\n", true);
  auto no_command = cell.Specialize({{"env", {{"GREETING", "yo"}}}});
  CHECK(no_command.status == 400);
  auto specialized = cell.Specialize({{"command", {"./handler.sh"}},
                                      {"env", {{"GREETING", "yo"}}},
                                      {"maxBody", 32},
                                      {"timeout", "5s"}});
  INFO(cell.Logs());
  REQUIRE(specialized.status == 200);
  auto call = cell.Call("POST", "/", "body");
  CHECK(call.status == 200);
  CHECK(call.body == "yo:body");
  // The function's body limit, not the stem's 6M.
  CHECK(cell.Call("POST", "/", std::string(64, 'x')).status == 413);
  CHECK(cell.Specialize({{"command", {"cat"}}}).status == 409);
  CHECK(cell.Call("POST", "/", "again").body == "yo:again");
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// protocol14's figures: POST /_/specialize to its 200, and the first call after it, per
// runtime (median of 10 cells, one after another; the cell's start is not counted).
TEST_CASE("stem bench: specialisation and first call", "[.][bench][stem]") {
  TestEngine engine;
  constexpr int kCells = 10;
  for (auto runtime : {spec::Runtime::kExec, spec::Runtime::kPython3, spec::Runtime::kNode}) {
    auto image = StemImage(engine, runtime);
    std::vector<double> specialize_ms;
    std::vector<double> first_call_ms;
    std::vector<double> second_call_ms;
    for (int i = 0; i < kCells; ++i) {
      Cell cell(engine, image.ref);
      REQUIRE(cell.WaitReady());
      json body;
      switch (runtime) {
        case spec::Runtime::kPython3:
          cell.Put("task/handler.py", "def main(req):\n    return 'hello'\n");
          body = {{"env", {{"_HANDLER", "handler.main"}}}};
          break;
        case spec::Runtime::kNode:
          cell.Put("task/handler.js", "exports.main = async () => 'hello';\n");
          body = {{"env", {{"_HANDLER", "handler.main"}}}};
          break;
        default:
          body = {{"command", {"echo", "hello"}}};
          break;
      }
      auto start = Clock::now();
      auto specialized = cell.Specialize(body);
      auto ready = Clock::now();
      REQUIRE(specialized.status == 200);
      auto call = cell.Call("GET", "/");
      auto answered = Clock::now();
      REQUIRE(call.status == 200);
      auto second = cell.Call("GET", "/");
      auto second_answered = Clock::now();
      REQUIRE(second.status == 200);
      specialize_ms.push_back(Millis(ready - start));
      first_call_ms.push_back(Millis(answered - ready));
      second_call_ms.push_back(Millis(second_answered - answered));
    }
    std::printf(
        "%-8s specialize p50 %.1f ms (min %.1f, max %.1f); first call p50 %.1f ms; "
        "warm call p50 %.1f ms\n",
        std::string(spec::RuntimeName(runtime)).c_str(), Median(specialize_ms),
        *std::min_element(specialize_ms.begin(), specialize_ms.end()),
        *std::max_element(specialize_ms.begin(), specialize_ms.end()), Median(first_call_ms),
        Median(second_call_ms));
  }
}

}  // namespace
}  // namespace gantry::testing
