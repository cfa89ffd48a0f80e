// The runtime-api path end to end on the host (issue 15): the shim's RuntimeApiRunner with
// the real python3 and node bootstraps, which answer a call and ask for the next in one
// pipelined write on one kept-alive socket. Calls in a row each reach the one warm
// handler and come back with their own body; a call whose caller gives up kills the
// handler, which is restarted and serves the next call. Skipped where the interpreter is
// missing.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "process.h"
#include "runtime_api_runner.h"
#include "shim_server.h"

namespace gantry::shim {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

bool Have(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

struct Bootstrap {
  std::string interpreter;
  std::string script;   // under runtime-shim/bootstrap/
  std::string handler;  // file name
  std::string source;   // its text: echoes the body with a prefix
};

Bootstrap Python() {
  return {"python3", "python3/bootstrap.py", "handler.py",
          "import time\n"
          "def main(req):\n"
          "    if req.body == 'hang':\n"
          "        time.sleep(30)\n"
          "    return 'got ' + req.body\n"};
}

Bootstrap Node() {
  return {"node", "node/bootstrap.js", "handler.js",
          "exports.main = async (req) => {\n"
          "  if (req.body === 'hang') await new Promise((r) => setTimeout(r, 30000));\n"
          "  return 'got ' + req.body;\n"
          "};\n"};
}

class Harness {
 public:
  explicit Harness(const Bootstrap& bootstrap) {
    char dir[] = "/tmp/gantry-shim-rtapi-test.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    root_ = dir;
    std::ofstream(root_ / bootstrap.handler) << bootstrap.source;
    config_.mode = Mode::kRuntimeApi;
    config_.command = {bootstrap.interpreter,
                       std::string(GANTRY_SHIM_SOURCE_DIR) + "/bootstrap/" + bootstrap.script};
    config_.timeout = std::chrono::milliseconds(20000);
    config_.max_inflight = 4;
    config_.handlers = 4;
    // The handlers' task root (the runner keeps what the environment already says).
    ::setenv("LAMBDA_TASK_ROOT", root_.c_str(), 1);
    std::string error;
    REQUIRE(runner_.Start([](int, const std::string& message) { FAIL(message); }, error));
    ::unsetenv("LAMBDA_TASK_ROOT");
  }
  ~Harness() {
    runner_.Stop(SIGKILL);
    io_.run_for(std::chrono::milliseconds(200));
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // Sends one call and runs the loop until it is answered (or `give_up`, when set: the
  // caller's deadline, after which the shim abandons the call).
  std::optional<HttpResponse> Call(const std::string& body,
                                   std::chrono::milliseconds give_up = std::chrono::seconds(20)) {
    auto answer = std::make_shared<std::optional<HttpResponse>>();
    config_.timeout = give_up;
    HttpRequest request{http::verb::post, "/", 11};
    request.body() = body;
    request.prepare_payload();
    server_.Handle(std::move(request),
                   Responder([answer](HttpResponse response) { *answer = std::move(response); }));
    for (int i = 0; i < 3000 && !answer->has_value(); ++i) {
      io_.run_for(std::chrono::milliseconds(10));
    }
    return *answer;
  }

  RuntimeApiRunner& runner() { return runner_; }

 private:
  fs::path root_;
  boost::asio::io_context io_;
  SystemClock clock_;
  ShimConfig config_;
  ProcessReaper reaper_{io_};
  RuntimeApiRunner runner_{io_, config_, clock_, reaper_};
  ShimServer server_{io_, config_, clock_, runner_};
};

void CheckCallsInARow(const Bootstrap& bootstrap) {
  if (!Have(bootstrap.interpreter)) {
    WARN(bootstrap.interpreter + " is not installed: not tested");
    return;
  }
  Harness harness(bootstrap);
  for (int i = 0; i < 50; ++i) {
    auto answer = harness.Call("call " + std::to_string(i));
    REQUIRE(answer.has_value());
    CHECK(answer->result_int() == 200);
    CHECK(answer->body() == "got call " + std::to_string(i));
  }
  // One call at a time needs one handler, whatever the limit.
  CHECK(harness.runner().handler_count() == 1);

  // A caller that gives up: the handler busy with its call is killed and restarted, and
  // the next call is served.
  auto abandoned = harness.Call("hang", std::chrono::milliseconds(300));
  REQUIRE(abandoned.has_value());
  CHECK(abandoned->result_int() == 504);
  auto after = harness.Call("after");
  REQUIRE(after.has_value());
  CHECK(after->body() == "got after");
}

TEST_CASE("runtime-api: python3 calls in a row reach the warm handler and come back",
          "[shim][runtime-api]") {
  CheckCallsInARow(Python());
}

TEST_CASE("runtime-api: node calls in a row reach the warm handler and come back",
          "[shim][runtime-api]") {
  CheckCallsInARow(Node());
}

}  // namespace
}  // namespace gantry::shim
