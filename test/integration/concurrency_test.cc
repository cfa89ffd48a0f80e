// `concurrency: N` through a real gantryd (CTest label "integration"): with concurrency 4
// and scale.max 1, four parallel calls of a sleeping handler run at the same time inside the
// one replica, for python3 and for node. Each call returns when it started and ended (the
// container's clock); the test asserts the intervals overlap, with no threshold on
// wall-clock time. The first round starts its handler processes on demand, which on a loaded
// machine takes a second or more each (node), so there the handler sleeps long enough (8 s)
// that a late start still overlaps; the second round reaches waiting handlers (1 s). Everything
// carries the test label and is removed by TestEngine.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Applies the function in `src` (its gantry.yaml), calls it four times at once, twice over
// (cold handlers, then warm ones), and checks every round's four intervals overlap.
void CheckFourAtOnce(TestEngine& engine, const fs::path& state_dir, const fs::path& src,
                     const std::string& name) {
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Gantryd gantryd(engine, state_dir);
  Reply applied =
      gantryd.Call("PUT", FunctionPath(fn), Bundle(fn), {"Content-Type: application/x-tar"});
  INFO("apply: " << applied.body << "\ngantryd log:\n" << gantryd.Log());
  REQUIRE(applied.status == 201);
  std::string invoke = "/function/" + name + "." + engine.value();
  Reply up = gantryd.Call("GET", invoke + "?sleep=0", "", {}, false);
  REQUIRE(up.status == 200);
  // The Lambda environment of the deployment, set by the pool (not baked into the image).
  json env = json::parse(up.body)["env"];
  CHECK(env == json::array({name, "1", "512", "/var/task"}));
  for (auto [round, sleep] : {std::pair{"cold handlers", "8"}, std::pair{"warm handlers", "1"}}) {
    std::vector<std::future<Reply>> calls;
    for (int i = 0; i < 4; ++i) {
      calls.push_back(std::async(std::launch::async, [&, sleep = sleep] {
        return gantryd.Call("GET", invoke + "?sleep=" + sleep, "", {}, false);
      }));
    }
    std::vector<json> answers;
    for (auto& call : calls) {
      Reply r = call.get();
      INFO("status " << r.status << " body " << r.body);
      REQUIRE(r.status == 200);
      answers.push_back(json::parse(r.body));
    }
    double first = 1e300, latest_start = 0, earliest_end = 1e300;
    std::set<int64_t> pids;
    for (const json& a : answers) {
      first = std::min(first, a["start"].get<double>());
      latest_start = std::max(latest_start, a["start"].get<double>());
      earliest_end = std::min(earliest_end, a["end"].get<double>());
      pids.insert(a["pid"].get<int64_t>());
    }
    std::string intervals;
    for (const json& a : answers) {
      char one[64];
      std::snprintf(one, sizeof one, " [%.3f, %.3f]", a["start"].get<double>() - first,
                    a["end"].get<double>() - first);
      intervals += one;
    }
    std::printf("%s via gantryd, %s: intervals (s, from the first start):%s\n", name.c_str(), round,
                intervals.c_str());
    INFO(round << ":" << intervals);
    CHECK(latest_start < earliest_end);
    CHECK(pids.size() == 4);
  }
  CHECK(ContainersOf(engine, name).size() == 1);  // all of it inside one replica
}

constexpr const char* kManifest =
    "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: NAME\n"
    "spec:\n  runtime: RUNTIME\n  handler: handler.main\n  source: .\n"
    "  concurrency: 4\n  scale: {max: 1}\n  resources: {memory: 512Mi}\n";

std::string Manifest(const std::string& name, const std::string& runtime) {
  std::string m = kManifest;
  m.replace(m.find("NAME"), 4, name);
  m.replace(m.find("RUNTIME"), 7, runtime);
  return m;
}

TEST_CASE("concurrency 4: four python3 calls run at once in one replica",
          "[integration][concurrency]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "py";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml") << Manifest("sleeper-py", "python3");
  std::ofstream(src / "handler.py")
      << "import os, time\n\n"
         "def main(req):\n"
         "    start = time.time()\n"
         "    time.sleep(float(req.query.get('sleep', '1')))\n"
         "    env = [os.environ.get(k) for k in ('AWS_LAMBDA_FUNCTION_NAME', "
         "'AWS_LAMBDA_FUNCTION_VERSION',\n"
         "                                        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', "
         "'LAMBDA_TASK_ROOT')]\n"
         "    return {'start': start, 'end': time.time(), 'pid': os.getpid(), 'env': env}\n";
  CheckFourAtOnce(engine, state.path(), src, "sleeper-py");
}

TEST_CASE("concurrency 4: four node calls run at once in one replica",
          "[integration][concurrency]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "js";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml") << Manifest("sleeper-js", "node");
  // A synchronous sleep: it blocks the whole process, as CPU-bound work would.
  std::ofstream(src / "handler.js")
      << "exports.main = async (req) => {\n"
         "  const start = Date.now() / 1000;\n"
         "  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(req.query.sleep || "
         "1) * 1000);\n"
         "  const env = ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION',\n"
         "    'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'LAMBDA_TASK_ROOT'].map((k) => process.env[k]);\n"
         "  return { start, end: Date.now() / 1000, pid: process.pid, env };\n"
         "};\n";
  CheckFourAtOnce(engine, state.path(), src, "sleeper-js");
}

}  // namespace
}  // namespace gantry::testing
