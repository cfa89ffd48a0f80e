// Streamed builds and the metrics a deploy brings, against a real gantryd and engine (CTest
// label "integration"): `gantry apply --progress plain` of a small Dockerfile function
// shows its build's "Step" lines as they happen, before the result line; /metrics then
// has the function's series at zero and passes `promtool check metrics` (when promtool is
// installed: scripts/deps).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gantryd_support.h"
#include "run_program.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

// `program args...` with stdout and stderr in one pipe, in the order they were written.
Run Program(const std::string& program, const std::vector<std::string>& args,
            const std::vector<std::string>& env, const std::string& input = "") {
  return RunProgram(program, args, env, {.input = input, .merge_stderr = true});
}

bool HavePromtool() {
  return ::access("/usr/bin/promtool", X_OK) == 0;
}

TEST_CASE("build stream: apply --progress plain shows the build's steps before the result",
          "[integration][build-stream]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  INFO(gantryd.Log());
  const std::string ns = engine.value();
  fs::path dir = state.path() / "streamed";
  fs::create_directories(dir);
  std::ofstream(dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: streamed\n"
      << "  namespace: " << ns << "\nspec:\n  runtime: dockerfile\n  source: .\n"
      << "  scale: {min: 0}\n";
  // The test's own value in a step: a new image (and a real build) every run.
  std::ofstream(dir / "Dockerfile") << "FROM gantry/base:bookworm\n"
                                    << "RUN echo building-" << ns << "\n"
                                    << "CMD [\"cat\"]\n";
  std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=" + gantryd.token()};

  Run applied = Program(
      GANTRY_BINARY, {"apply", "--progress", "plain", "-f", (dir / "gantry.yaml").string()}, env);
  INFO(applied.out);
  CHECK(applied.exit_code == 0);
  const std::string prefix = "function.gantry.dev/streamed | ";
  // (The engine may count steps of its own for the labels: "Step 1/N".)
  std::size_t step1 = applied.out.find(prefix + "Step 1/");
  std::size_t step2 = applied.out.find(" : RUN echo building-" + ns + "\n");
  std::size_t echoed = applied.out.find(prefix + "building-" + ns + "\n");
  std::size_t result = applied.out.find("function.gantry.dev/streamed created\n");
  REQUIRE(step1 != std::string::npos);
  REQUIRE(step2 != std::string::npos);
  REQUIRE(echoed != std::string::npos);  // the RUN's own output
  REQUIRE(result != std::string::npos);
  CHECK(step1 < step2);
  CHECK(step2 < echoed);
  CHECK(echoed < result);

  // The stream's protocol, as a client sees it: NDJSON ending in the outcome.
  Reply raw =
      gantryd.Call("PUT", "/apis/gantry/v1/namespaces/" + ns + "/functions/streamed?progress=1",
                   "not a bundle", {"Content-Type: application/gzip"});
  CHECK(raw.status == 400);  // checked before the stream starts: a plain error answer

  // Right after the apply, before any call: the function's series exist, at zero.
  Reply metrics = gantryd.Call("GET", "/metrics", "", {}, false);
  REQUIRE(metrics.status == 200);
  const std::string labels = "function=\"streamed\",namespace=\"" + ns + "\"";
  CHECK_THAT(metrics.body,
             Catch::Contains("gantry_invocations_total{code=\"200\"," + labels + "} 0\n"));
  CHECK_THAT(metrics.body,
             Catch::Contains("gantry_invocation_duration_seconds_count{" + labels + "} 0\n"));
  CHECK_THAT(metrics.body, Catch::Contains("gantry_cold_starts_total{" + labels + "} 0\n"));
  CHECK_THAT(metrics.body, Catch::Contains("gantry_build_info{compiler=\""));
  CHECK_THAT(metrics.body, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(metrics.body, Catch::Contains("process_open_fds "));
  CHECK_THAT(metrics.body, Catch::Contains("process_threads "));
  CHECK_THAT(metrics.body, Catch::Contains("gantry_invocations_in_flight{namespace=\"" + ns +
                                           "\",function=\"streamed\"} 0\n"));

  if (HavePromtool()) {
    // OpenFaaS's names are OpenFaaS's (dashboards depend on them), lint or not:
    // gateway_function_invocation_started (a counter without _total) and
    // gateway_service_count (a gauge ending in _count) are left out of the lint.
    std::string ours;
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("gateway_function_invocation_started") == std::string::npos &&
          line.find("gateway_service_count") == std::string::npos) {
        ours += line + "\n";
      }
    }
    Run check = Program("/usr/bin/promtool", {"check", "metrics"}, {}, ours);
    INFO(check.out);
    CHECK(check.exit_code == 0);
  } else {
    WARN("promtool is not installed (scripts/deps installs it): `promtool check metrics` skipped");
  }

  // Deleted: its series go.
  Reply deleted =
      gantryd.Call("DELETE", "/apis/gantry/v1/namespaces/" + ns + "/functions/streamed");
  CHECK(deleted.status == 200);
  CHECK_THAT(gantryd.Call("GET", "/metrics", "", {}, false).body, !Catch::Contains(labels));
}

}  // namespace
}  // namespace gantry::testing
