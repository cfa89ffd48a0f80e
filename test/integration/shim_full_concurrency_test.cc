// No spurious 429 at full concurrency (issue 19; CTest label "integration"): a real shim in
// a container with max in-flight 64 is called over 64 kept-alive connections, each making
// its calls one after the other -- directly, through the real gateway with a backend that
// hands out 64 slots the way gantryd's pool does (a slot is given back when the answer is
// relayed, and goes to the next waiting call at once), and through a real gantryd with a
// function at `concurrency: 64`. Nobody ever has more than 64 calls open, so every call
// must be answered 2xx: not one 429. Each run stops by itself after its calls (or a
// generous time bound); no assertion on wall-clock time.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/shim_load.h"
#include "gantryd_support.h"
#include "gateway/gateway.h"
#include "shim_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kConnections = 64;
// The bound on one run: far above what its calls take (a few seconds each).
constexpr auto kMaxTime = std::chrono::milliseconds(240'000);

// "/" answers a few bytes; "/big" 70,000 with a Content-Length, which the shim relays
// streamed (over its 64 KiB buffer), so its slot is freed with the last bytes of the body.
const char kServer[] =
    "const http = require('http');\n"
    "const big = Buffer.alloc(70000, 'x');\n"
    "http.createServer((req, res) => {\n"
    "  req.resume();\n"
    "  req.on('end', () => {\n"
    "    if (req.url === '/big') {\n"
    "      res.setHeader('Content-Length', big.length);\n"
    "      res.end(big);\n"
    "      return;\n"
    "    }\n"
    "    res.end('ok');\n"
    "  });\n"
    "}).listen(8080, '127.0.0.1');\n";

std::vector<std::string> ShimEnv(std::vector<std::string> env) {
  env.push_back("GANTRY_MAX_INFLIGHT=" + std::to_string(kConnections));
  env.push_back("GANTRY_TIMEOUT=60s");
  return env;
}

bench::LoadResult Load(const bench::LoadTarget& target, const std::string& path, int64_t calls) {
  bench::LoadOptions options;
  options.concurrency = kConnections;
  options.requests = calls;
  options.max_time = kMaxTime;
  options.method = "GET";
  options.target = path;
  options.body.clear();
  auto result = bench::RunLoad(target, options);
  std::printf("%s %s: %s\n", target.unix_path.empty() ? "gateway" : "direct", path.c_str(),
              bench::FormatResult(result).c_str());
  return result;
}

// Every call answered 2xx (a 429 or any other failure shows as first_error).
void CheckAllAnswered(const bench::LoadResult& result, int64_t calls) {
  INFO("first failure: " << result.first_error);
  CHECK(result.failed == 0);
  CHECK(result.ok == calls);
}

TEST_CASE("shim http: 64 kept-alive connections at max in-flight 64 get no 429",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, "gantry/node:bookworm", {{"server.js", kServer, 0644}},
                     ShimEnv({"GANTRY_MODE=http", "GANTRY_COMMAND=node server.js",
                              "GANTRY_UPSTREAM=127.0.0.1:8080"}));
  REQUIRE(shim.WaitReady());
  bench::LoadTarget target;
  target.unix_path = shim.socket_path();
  CheckAllAnswered(Load(target, "/", 10'000), 10'000);
  CheckAllAnswered(Load(target, "/big", 2'000), 2'000);
}

TEST_CASE("shim exec: 64 kept-alive connections at max in-flight 64 get no 429",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, "gantry/base:bookworm", {},
                     ShimEnv({"GANTRY_MODE=exec", "GANTRY_COMMAND=echo ok"}));
  REQUIRE(shim.WaitReady());
  bench::LoadTarget target;
  target.unix_path = shim.socket_path();
  CheckAllAnswered(Load(target, "/", 2'000), 2'000);
}

// Calls `target` on a connection of its own, waits until the function logs `marker` (the
// call runs), and closes the connection: the caller gives up on the call.
void HangUpDuring(ShimContainer& shim, const std::string& target, const std::string& marker) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = shim.socket_path();
  bool connected = path.size() < sizeof address.sun_path;
  if (connected) {
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: shim\r\n\r\n";
  bool sent = connected &&
              ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  bool started = sent && shim.LogsOnce(marker).find(marker) != std::string::npos;
  ::close(fd);
  REQUIRE(connected);
  REQUIRE(sent);
  REQUIRE(started);
}

// 64 calls to `target` at once, each on a new connection: every one is admitted (2xx).
void CheckAllAdmittedAtOnce(const ShimContainer& shim, const std::string& target) {
  constexpr auto kCalls = static_cast<std::size_t>(kConnections);
  std::vector<int> statuses(kCalls, 0);
  std::vector<std::string> errors(kCalls);
  std::vector<std::thread> callers;
  for (std::size_t i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      auto reply = shim.Call("GET", target, "", {}, std::chrono::seconds(40));
      statuses[i] = reply.status;
      errors[i] = reply.error + reply.body;
    });
  }
  for (auto& caller : callers) caller.join();
  for (std::size_t i = 0; i < kCalls; ++i) {
    INFO("call " << i << ": " << errors[i]);
    CHECK(statuses[i] == 200);
  }
}

// A caller that gives up on a call (wrk closing its connections at the end of a run, a
// client's timeout, nginx after a client abort, the gateway on 499/504) and calls again on
// other connections: the call given up is abandoned and its slot is free at once, so 64
// calls at once on 64 new connections are all admitted (issue 19). Each /hold call takes
// 5 s, so the 64 are in flight together.
TEST_CASE("shim exec: a call whose client hangs up frees its slot at once", "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(
      engine, "gantry/base:bookworm", {},
      ShimEnv({"GANTRY_MODE=exec",
               "GANTRY_COMMAND=sh -c 'case \"$Http_Path\" in /slow) echo started-slow >&2; "
               "sleep 50;; /hold) sleep 5;; esac; echo ok'"}));
  REQUIRE(shim.WaitReady());
  HangUpDuring(shim, "/slow", "started-slow");
  CheckAllAdmittedAtOnce(shim, "/hold");
  CHECK_THAT(shim.Logs(), Catch::Contains("the client closed its connection; call abandoned"));
}

const char kSlowServer[] =
    "const http = require('http');\n"
    "http.createServer((req, res) => {\n"
    "  if (req.url === '/slow') { console.error('started-slow'); return; }\n"
    "  setTimeout(() => res.end('ok'), 5000);\n"
    "}).listen(8080, '127.0.0.1');\n";

TEST_CASE("shim http: a call whose client hangs up frees its slot at once", "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, "gantry/node:bookworm", {{"server.js", kSlowServer, 0644}},
                     ShimEnv({"GANTRY_MODE=http", "GANTRY_COMMAND=node server.js",
                              "GANTRY_UPSTREAM=127.0.0.1:8080"}));
  REQUIRE(shim.WaitReady());
  HangUpDuring(shim, "/slow", "started-slow");
  CheckAllAdmittedAtOnce(shim, "/hold");
  CHECK_THAT(shim.Logs(), Catch::Contains("the client closed its connection; call abandoned"));
}

// gantryd's pool in miniature: `slots` leases of one replica; a call beyond them waits, and
// a lease given back goes to the longest waiting call. Thread-safe.
class SlotBackend final : public gateway::InvokeBackend {
 public:
  SlotBackend(std::string socket, int slots) : socket_(std::move(socket)), free_(slots) {}

  void Resolve(const std::string&, const std::string&, gateway::ResolveCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_ == 0) {
        waiting_.push_back(std::move(done));
        return;
      }
      --free_;
    }
    done(MakeTarget());
  }

 private:
  gateway::Target MakeTarget() {
    gateway::Target target;
    target.unix_socket = socket_;
    target.timeout = 60s;
    target.replica = "r1";
    target.release = [this](bool, const std::string&) { Release(); };
    return target;
  }
  void Release() {
    gateway::ResolveCallback next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiting_.empty()) {
        ++free_;
        return;
      }
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
    next(MakeTarget());
  }

  const std::string socket_;
  std::mutex mu_;
  int free_;                                      // guarded by mu_
  std::deque<gateway::ResolveCallback> waiting_;  // guarded by mu_
};

TEST_CASE("shim http through the gateway: 64 callers on 64 slots get no 429",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, "gantry/node:bookworm", {{"server.js", kServer, 0644}},
                     ShimEnv({"GANTRY_MODE=http", "GANTRY_COMMAND=node server.js",
                              "GANTRY_UPSTREAM=127.0.0.1:8080"}));
  REQUIRE(shim.WaitReady());
  SlotBackend backend(shim.socket_path(), kConnections);
  gateway::GatewayOptions options;
  options.listen = "127.0.0.1:0";
  options.auth_disabled = true;
  gateway::Gateway gw(options, backend, {});
  REQUIRE(gw.Start().ok());
  bench::LoadTarget target;
  target.port = static_cast<unsigned short>(gw.port());
  CheckAllAnswered(Load(target, "/function/fn", 10'000), 10'000);
  CheckAllAnswered(Load(target, "/function/fn/big", 2'000), 2'000);
}

// From zero, as examples/echo is deployed (scale max 4): the first calls wait for the
// replica's start, then up to 64 go in at once.
TEST_CASE("gantryd: 64 connections to a function at concurrency 64 get no 429",
          "[integration][shim]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "echo64";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: echo64\n"
         "spec:\n  runtime: exec\n  command: [\"cat\"]\n  concurrency: 64\n"
         "  scale: {min: 0, max: 4}\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Gantryd gantryd(engine, state.path());
  Deploy(gantryd, fn);
  std::string invoke = "/function/echo64." + engine.value();
  bench::LoadTarget target;
  target.port = static_cast<unsigned short>(gantryd.port());
  CheckAllAnswered(Load(target, invoke, 10'000), 10'000);
}

}  // namespace
}  // namespace gantry::testing
