// DescribeFailure over log lines captured from the real images (gantry/python3's
// python3.11 and gantry/node's node 18 behind gantry-shim: test/testdata/failures/), and
// the path scrubbing every reason and error body goes through.
#include "pool/failure_reason.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

namespace gantry::pool {
namespace {

std::vector<LogLine> Lines(std::vector<std::string> texts) {
  std::vector<LogLine> lines;
  for (auto& t : texts) lines.push_back({{}, docker::Stream::kStderr, std::move(t)});
  return lines;
}

std::vector<LogLine> Capture(const std::string& name) {
  std::ifstream in(std::string(GANTRY_TESTDATA_DIR) + "/failures/" + name);
  REQUIRE(in.good());
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) texts.push_back(line);
  REQUIRE_FALSE(texts.empty());
  return Lines(std::move(texts));
}

std::vector<LogLine> Without(std::vector<LogLine> lines, std::size_t first) {
  lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(first));
  return lines;
}

constexpr int64_t kMi = 1024 * 1024;

TEST_CASE("DescribeFailure: real handler failures in user terms", "[pool][failure]") {
  struct Case {
    const char* what;
    std::vector<LogLine> lines;
    FailureFacts facts;
    std::string want;
  };
  std::vector<Case> cases = {
      {"python3 import of a missing module (the shim gave up: exit 3)",
       Capture("python_import.log"),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: ModuleNotFoundError: No module named 'requests'"},
      {"python3: only the end of the traceback was read; the shim's init error names it",
       Without(Capture("python_import.log"), 8),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: ModuleNotFoundError: No module named 'requests'"},
      {"python3 syntax error in the handler",
       Capture("python_syntax.log"),
       {.exit_code = 1, .before_ready = true},
       "handler import failed: SyntaxError: '(' was never closed"},
      {"python3 exception raised at a call that took the process down",
       Capture("python_call.log"),
       {.exit_code = 1},
       "handler failed: ValueError: bad input: x"},
      {"node require of a missing module",
       Capture("node_import.log"),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: Cannot find module 'left-pad'"},
      {"node: the last 20 lines of a full stack; the shim's init error names it",
       Capture("node_import_tail.log"),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: Cannot find module 'left-pad'"},
      {"node error at a call",
       Capture("node_call.log"),
       {.exit_code = 1},
       "handler failed: TypeError: Cannot read properties of undefined (reading 'x')"},
      {"exec handler missing: the shim's own fatal message",
       Capture("exec_missing.log"),
       {.exit_code = 127, .before_ready = true},
       "function can't run: command not found or not executable: ./handler.sh"},
      {"a Lambda runtime client's init error without a traceback",
       Lines(
           {"gantry-shim: handler started (pid 7)",
            R"(gantry-shim: handler init error: {"errorMessage":"boom\nmore","errorType":"RuntimeError"})",
            "gantry-shim: handler exited (exit status 1); restarting in 50 ms"}),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: RuntimeError: boom"},
      {"the shim's newer init error line (no JSON)",
       Lines({"gantry-shim: handler init error: Error: Cannot find module 'x'"}),
       {.exit_code = 3, .before_ready = true},
       "handler import failed: Cannot find module 'x'"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    c.facts.last_lines = &c.lines;
    CHECK(DescribeFailure(c.facts) == c.want);
  }
}

TEST_CASE("DescribeFailure: OOM, signals, exit codes and the last line", "[pool][failure]") {
  auto python = Capture("python_import.log");
  auto printed = Lines({"[-] stdout: loading config", "[-] stderr: config.yaml: missing key 'db'",
                        "[-] stderr: ", "gantry-shim: handler exited (exit status 2)"});
  auto shim_only = Lines({"gantry-shim: mode exec, listening on unix:/run/gantry/shim.sock"});
  struct Case {
    FailureFacts facts;
    const std::vector<LogLine>* lines;
    std::string want;
  };
  std::vector<Case> cases = {
      {{.exit_code = 137, .oom = true, .memory_bytes = 128 * kMi},
       &python,
       "out of memory (128Mi)"},
      {{.exit_code = 137, .oom = true, .memory_bytes = 1024 * kMi}, nullptr, "out of memory (1Gi)"},
      {{.exit_code = 137, .oom = true}, nullptr, "out of memory"},
      {{.exit_code = 137}, nullptr, "killed (SIGKILL)"},
      {{.exit_code = 139}, nullptr, "crashed (SIGSEGV)"},
      {{.exit_code = 134, .before_ready = true}, nullptr, "crashed (SIGABRT) before it was ready"},
      {{.exit_code = 2, .before_ready = true},
       &printed,
       "exited with code 2 before it was ready: config.yaml: missing key 'db'"},
      {{.exit_code = 1}, nullptr, "exited with code 1"},
      {{.exit_code = 0, .before_ready = true},
       &shim_only,
       "exited with code 0 before it was ready: mode exec, listening on unix:<socket>"},
      {{.engine_reason = "health check failed"},
       &printed,
       "health check failed: config.yaml: missing key 'db'"},
      {{.engine_reason = "not ready within 30000 ms"}, nullptr, "not ready within 30000 ms"},
      {{}, &printed, "config.yaml: missing key 'db'"},
      {{}, nullptr, "stopped for an unknown reason"},
  };
  for (auto& c : cases) {
    INFO(c.want);
    c.facts.last_lines = c.lines;
    CHECK(DescribeFailure(c.facts) == c.want);
  }
}

TEST_CASE("DescribeFailure never names a host path and stays one bounded line", "[pool][failure]") {
  auto lines = Lines({"[-] stderr: open /var/lib/gantry/run/rc6af2d2737/secrets/db: denied",
                      "[-] stderr: connect /tmp/x/run/r1/shim.sock: refused"});
  FailureFacts facts{.exit_code = 1, .last_lines = &lines};
  CHECK(DescribeFailure(facts) == "exited with code 1: connect <socket>: refused");
  lines.pop_back();
  CHECK(DescribeFailure(facts) == "exited with code 1: open <gantry dir>: denied");

  auto long_line = Lines({"[-] stderr: " + std::string(5000, 'x')});
  facts.last_lines = &long_line;
  std::string reason = DescribeFailure(facts);
  CHECK(reason.size() < 700);
  CHECK(reason.find('\n') == std::string::npos);
}

TEST_CASE("ScrubHostPaths replaces gantryd's directories and sockets, keeps the container's",
          "[pool][failure]") {
  std::vector<std::string> dirs = {"/tmp/gantry-state-1"};
  struct Case {
    std::string in, want;
  };
  for (const auto& c : std::vector<Case>{
           {"mkdir /tmp/gantry-state-1/run/abc: permission denied",
            "mkdir <gantry dir>: permission denied"},
           {"'/tmp/gantry-state-1' is full.", "'<gantry dir>' is full."},
           {"/tmp/gantry-state-10/x stays", "/tmp/gantry-state-10/x stays"},
           {"replica (/var/lib/gantry/run/r1) gone", "replica (<gantry dir>) gone"},
           {"listening on unix:/run/gantry/shim.sock", "listening on unix:<socket>"},
           {"File \"/var/task/handler.py\", line 1", "File \"/var/task/handler.py\", line 1"},
           {"a/b and http://x/y stay", "a/b and http://x/y stay"},
           {"", ""},
       }) {
    CHECK(ScrubHostPaths(c.in, dirs) == c.want);
  }
}

TEST_CASE("StripShimPrefix and LastLogLine", "[pool][failure]") {
  CHECK(StripShimPrefix("[-] stderr: Traceback") == "Traceback");
  CHECK(StripShimPrefix("[0b1e4c2a-7] stdout:   indented") == "  indented");
  CHECK(StripShimPrefix("[abc] error: {}") == "{}");
  CHECK(StripShimPrefix("[-] stderr:") == "");
  CHECK(StripShimPrefix("[not a prefix] said: x") == "[not a prefix] said: x");
  CHECK(StripShimPrefix("plain line") == "plain line");

  CHECK(LastLogLine(Capture("python_import.log")) ==
        "ModuleNotFoundError: No module named 'requests'");
  CHECK(LastLogLine(Capture("node_import.log")) == "Error: Cannot find module 'left-pad'");
  CHECK(LastLogLine(Capture("node_import_tail.log")) ==
        "handler init error: Cannot find module 'left-pad'");
  CHECK(LastLogLine(Capture("node_call.log")) ==
        "TypeError: Cannot read properties of undefined (reading 'x')");
  CHECK(LastLogLine(Capture("exec_missing.log")) ==
        "function can't run: command not found or not executable: ./handler.sh");
  CHECK(LastLogLine(Lines({"[-] stdout: ready on /tmp/gantry-x/run/r/shim.sock",
                           "[-] stderr:  "})) == "ready on <socket>");
  CHECK(LastLogLine({}).empty());
}

}  // namespace
}  // namespace gantry::pool
