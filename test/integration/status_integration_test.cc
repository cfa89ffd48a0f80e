// A function's status against a real engine and gantryd, through the CLI: `apply --wait`
// proves a function runs (scale.min 0 included) or fails naming why; `get` and `describe`
// tell CrashLoop with the handler's error, Died with the exit code, OOMKilled; a healthy
// function is Ready, then idles out to ScaledToZero.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gantryd_support.h"
#include "run_program.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

// Runs the gantry CLI with `env` added; waits for it (bounded by its own --timeout).
Run Gantry(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  return RunProgram(GANTRY_BINARY, args, env);
}

// A python3 function `name` of namespace `ns` whose handler.py is `code`, in `dir`.
std::string PythonFunction(const fs::path& dir, const std::string& ns, const std::string& name,
                           const std::string& code, const std::string& extra = "") {
  fs::create_directories(dir / "src");
  std::ofstream(dir / "src/handler.py") << code;
  std::ofstream(dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
      << "\n  namespace: " << ns << "\nspec:\n  runtime: python3\n  handler: handler.main\n"
      << "  source: ./src\n"
      << extra;
  return (dir / "gantry.yaml").string();
}

struct Suite {
  TestEngine engine;
  StateDir state{engine};
  Gantryd gantryd{engine, state.path()};
  std::string ns = engine.value();
  std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=" + gantryd.token()};

  nlohmann::json Status(const std::string& name) {
    Reply r = gantryd.Call("GET", "/apis/gantry/v1/namespaces/" + ns + "/functions/" + name);
    REQUIRE(r.status == 200);
    return r.Json()["status"];
  }
  // Waits (bounded) until `done(status)` holds; the last status seen.
  template <typename Pred>
  nlohmann::json WaitStatus(const std::string& name, Pred done, std::chrono::seconds limit) {
    nlohmann::json st;
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until;) {
      st = Status(name);
      if (done(st)) break;
      std::this_thread::sleep_for(250ms);
    }
    return st;
  }
};

bool HasEvent(const nlohmann::json& st, const std::string& reason) {
  for (const auto& e : st["events"]) {
    if (e.value("reason", "") == reason) return true;
  }
  return false;
}

TEST_CASE(
    "status: a healthy scale.min 0 function: apply --wait starts one replica, Ready, "
    "then it idles out to ScaledToZero",
    "[integration][status]") {
  Suite s;
  INFO(s.gantryd.Log());
  std::string manifest =
      PythonFunction(s.state.path() / "ok", s.ns, "ok", "def main(req):\n    return 'fine'\n",
                     "  scale: {min: 0, idleTimeout: 2s}\n");
  Run applied = Gantry({"apply", "-f", manifest, "--wait", "--timeout", "3m"}, s.env);
  INFO(applied.err);
  REQUIRE(applied.exit_code == 0);
  CHECK(applied.out == "function.gantry.dev/ok created\nfunction.gantry.dev/ok ready\n");
  // It proved a replica runs: one was started for it, and is ready now.
  CHECK(ContainersOf(s.engine, "ok").size() == 1);
  nlohmann::json st = s.Status("ok");
  CHECK(st["phase"] == "Ready");
  Run got = Gantry({"get", "functions", "-n", s.ns}, s.env);
  CHECK_THAT(got.out,
             Catch::StartsWith("NAME                     READY   STATUS        REPLICAS  AGE\n"
                               "ok                       1/1     Ready         1 "));
  // Idle past idleTimeout: removed, ScaledToZero, and the Events say so.
  st = s.WaitStatus(
      "ok",
      [](const nlohmann::json& j) {
        return j["phase"] == "ScaledToZero" && HasEvent(j, "Removed");
      },
      60s);
  INFO(st.dump(2));
  CHECK(st["phase"] == "ScaledToZero");
  for (const char* reason : {"Built", "RolledOut", "Started", "Ready", "Removed"}) {
    INFO(reason);
    CHECK(HasEvent(st, reason));
  }
  CHECK(ContainersOf(s.engine, "ok").empty());
  Run described = Gantry({"describe", "function", "ok", "-n", s.ns}, s.env);
  CHECK_THAT(described.out, Catch::Contains("Status:       ScaledToZero\n") &&
                                Catch::Contains("Events:\n  Type     Reason") &&
                                Catch::Contains("replica removed: idle"));
}

TEST_CASE(
    "status: a handler that fails at import: apply --wait exits 1 naming the error, "
    "get shows CrashLoop, describe shows Died with the exit code",
    "[integration][status]") {
  Suite s;
  INFO(s.gantryd.Log());
  std::string manifest = PythonFunction(s.state.path() / "broken", s.ns, "broken",
                                        "import requests\n\ndef main(req):\n    return 'never'\n",
                                        "  scale: {min: 0}\n");
  Run applied = Gantry({"apply", "-f", manifest, "--wait", "--timeout", "3m"}, s.env);
  INFO(applied.out);
  INFO(applied.err);
  CHECK(applied.exit_code == 1);
  CHECK_THAT(applied.err, Catch::Contains("No module named 'requests'"));
  CHECK_THAT(applied.err, Catch::Contains("last log lines:"));

  // A call brings the second failure in a row (or the back-off still runs): CrashLoop.
  (void)s.gantryd.Call("POST", "/function/broken." + s.ns, "x", {}, false);
  nlohmann::json st = s.WaitStatus(
      "broken", [](const nlohmann::json& j) { return j["phase"] == "CrashLoop"; }, 30s);
  INFO(st.dump(2));
  CHECK(st["phase"] == "CrashLoop");
  CHECK_THAT(st["reason"].get<std::string>(), Catch::Contains("No module named 'requests'"));
  Run got = Gantry({"get", "functions", "-n", s.ns, "-o", "wide"}, s.env);
  CHECK_THAT(got.out,
             Catch::Contains("CrashLoop") && Catch::Contains("No module named 'requests'"));
  Run described = Gantry({"describe", "function", "broken", "-n", s.ns}, s.env);
  INFO(described.out);
  CHECK_THAT(described.out, Catch::Contains("Status:       CrashLoop\n") &&
                                Catch::Contains("Reason:       ") &&
                                Catch::Contains("Warning  Died") && Catch::Contains("exit code"));
}

TEST_CASE("status: a replica killed for memory is Died OOMKilled, out of memory",
          "[integration][status]") {
  Suite s;
  INFO(s.gantryd.Log());
  // Allocates past its limit when imported: the replica's start is OOM-killed.
  std::string manifest =
      PythonFunction(s.state.path() / "hog", s.ns, "hog",
                     "hog = bytearray(512 * 1024 * 1024)\n\ndef main(req):\n    return 'never'\n",
                     "  resources: {memory: 64Mi}\n  scale: {min: 0}\n");
  Run applied = Gantry({"apply", "-f", manifest, "--wait", "--timeout", "3m"}, s.env);
  INFO(applied.err);
  CHECK(applied.exit_code == 1);
  nlohmann::json st = s.WaitStatus(
      "hog", [](const nlohmann::json& j) { return HasEvent(j, "OOMKilled"); }, 30s);
  INFO(st.dump(2));
  bool oom = false;
  for (const auto& e : st["events"]) {
    if (e.value("reason", "") == "OOMKilled") {
      oom = true;
      CHECK(e["type"] == "Warning");
      CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("out of memory"));
    }
  }
  CHECK(oom);
}

}  // namespace
}  // namespace gantry::testing
