// Streamed builds and the metrics a deploy brings, against a real gantryd and engine (CTest
// label "integration"): `gantry apply --progress plain` of a small Dockerfile function
// shows its build's "Step" lines as they happen, before the result line; /metrics then
// has the function's series at zero and passes `promtool check metrics` (when promtool is
// installed: scripts/deps).
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gantryd_support.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr, in the order they were written
};

// Runs `program args...` with `env` (and nothing else) and `input` on stdin, stdout and
// stderr into one pipe.
Run Program(const std::string& program, const std::vector<std::string>& args,
            const std::vector<std::string>& env, const std::string& input = "") {
  int in[2], out[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  std::vector<std::string> argv_s = {program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = {"PATH=/usr/bin:/bin", "HOME=/tmp"};
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (!input.empty()) (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);
  Run r;
  char buf[4096];
  pollfd p{out[0], POLLIN, 0};
  while (::poll(&p, 1, 300'000) > 0) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
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
  INFO(applied.output);
  CHECK(applied.exit_code == 0);
  const std::string prefix = "function.gantry.dev/streamed | ";
  // (The engine may count steps of its own for the labels: "Step 1/N".)
  std::size_t step1 = applied.output.find(prefix + "Step 1/");
  std::size_t step2 = applied.output.find(" : RUN echo building-" + ns + "\n");
  std::size_t echoed = applied.output.find(prefix + "building-" + ns + "\n");
  std::size_t result = applied.output.find("function.gantry.dev/streamed created\n");
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
    Run check = Program("/usr/bin/promtool", {"check", "metrics"}, {}, metrics.body);
    INFO(check.output);
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
