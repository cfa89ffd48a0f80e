// gantry-shim in real containers (CTest label "integration"): images built FROM the local
// base images with the static shim as entrypoint, run as nobody with a read-only root and
// no network, called through the unix socket in a bind-mounted host directory. Every image
// and container carries the test's gantry.test label and is removed even when a check fails.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "shim_support.h"
#include "support/engine.h"
#include "support/tar.h"

namespace gantry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kBase = "gantry/base:bookworm";
constexpr const char* kPython = "gantry/python3:bookworm";
constexpr const char* kNode = "gantry/node:bookworm";

// Waits for a file the function writes into the bind-mounted directory: the sign that a
// call is running inside the container.
bool WaitForFile(const std::string& path, std::chrono::milliseconds limit = 20s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Waits for the container to stop; returns its exit code, or -1.
int64_t WaitExit(TestEngine& engine, const std::string& id) {
  auto result = engine.client().WaitContainer(id);
  return result.ok() ? result->exit_code : -1;
}

TEST_CASE("shim exec: cat echoes the body, health and ready answer", "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kBase, {}, {"GANTRY_MODE=exec", "GANTRY_COMMAND=cat"});
  REQUIRE(shim.WaitReady());
  CHECK(shim.Call("GET", "/_/health").status == 200);
  std::string body = "hello from the test\nsecond line\n" + std::string(100000, 'x');
  auto reply = shim.Call("POST", "/", body);
  REQUIRE(reply.error.empty());
  CHECK(reply.status == 200);
  CHECK(reply.body == body);
  CHECK_FALSE(reply.headers["x-call-id"].empty());
  auto empty = shim.Call("GET", "/");
  CHECK(empty.status == 200);
  CHECK(empty.body.empty());
}

TEST_CASE("shim exec: a script reads Http_Method, Http_Query and headers", "[integration][shim]") {
  TestEngine engine;
  std::string script =
      "#!/bin/sh\n"
      "printf 'method=%s path=%s query=%s custom=%s type=%s body=' \"$Http_Method\" \"$Http_Path\" "
      "\"$Http_Query\" \"$Http_X_Custom\" \"$Http_Content_Type\"\n"
      "cat\n"
      "echo 'a log line' >&2\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh"});
  REQUIRE(shim.WaitReady());
  auto reply = shim.Call(
      "PUT", "/items/7?a=1&b=two", "payload",
      {{"X-Custom", "yes"}, {"Content-Type", "text/plain"}, {"X-Call-Id", "test-call-1"}});
  REQUIRE(reply.error.empty());
  CHECK(reply.status == 200);
  CHECK(reply.body ==
        "method=PUT path=/items/7 query=a=1&b=two custom=yes type=text/plain body=payload");
  CHECK(reply.headers["x-call-id"] == "test-call-1");
  auto get = shim.Call("GET", "/?q=x");
  CHECK(get.body == "method=GET path=/ query=q=x custom= type= body=");
  // stderr reaches the log line by line, tagged with the call id.
  CHECK_THAT(shim.LogsOnce("[test-call-1] stderr: a log line"),
             Catch::Contains("[test-call-1] stderr: a log line"));
}

// Children of host process `parent` (from /proc): pid -> state letter ('Z' for a zombie).
std::map<int, char> ChildrenOf(int64_t parent) {
  std::map<int, char> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    char state = stat[close + 2];
    int64_t ppid = std::atoll(stat.c_str() + close + 4);
    if (ppid == parent) children[std::atoi(stat.c_str())] = state;
  }
  return children;
}

TEST_CASE("shim exec: as PID 1 it reaps orphaned grandchildren", "[integration][shim]") {
  TestEngine engine;
  // Each call leaves a background process behind that outlives it, re-parented to PID 1.
  std::string script = "#!/bin/sh\n(sleep 1 >/dev/null 2>&1 &)\necho left one behind\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh"});
  REQUIRE(shim.WaitReady());
  for (int i = 0; i < 5; ++i) CHECK(shim.Call("GET", "/").body == "left one behind\n");
  auto info = engine.client().InspectContainer(shim.id());
  REQUIRE(info.ok());
  int64_t shim_pid = info->state.pid;
  REQUIRE(shim_pid > 0);
  // The orphans are re-parented to the shim (seen here while they sleep); once they have
  // exited nothing may remain, not even a zombie.
  std::map<int, char> children = ChildrenOf(shim_pid);
  CHECK_FALSE(children.empty());
  for (int i = 0; i < 1000 && !children.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    children = ChildrenOf(shim_pid);
  }
  std::string left;
  for (const auto& [pid, state] : children) left += std::to_string(pid) + ":" + state + " ";
  INFO("children of the shim (pid:state): " << left);
  CHECK(children.empty());
}

TEST_CASE("shim exec: failures, timeouts, body limit and in-flight limit", "[integration][shim]") {
  TestEngine engine;
  std::string script =
      "#!/bin/sh\n"
      "case \"$Http_Query\" in\n"
      "  fail) echo 'first detail' >&2; echo 'something broke' >&2; exit 3;;\n"
      "  hang) sleep 300;;\n"
      "  slow) touch /run/gantry/slow-started; sleep 3; echo slow done; exit 0;;\n"
      "esac\n"
      "echo fine\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh", "GANTRY_TIMEOUT=2s",
                      "GANTRY_MAX_INFLIGHT=1", "GANTRY_MAX_BODY=1k"});
  REQUIRE(shim.WaitReady());

  auto failed = shim.Call("GET", "/?fail");
  CHECK(failed.status == 500);
  CHECK_THAT(failed.body, Catch::Contains("exit status 3"));
  CHECK_THAT(failed.body, Catch::Contains("first detail\nsomething broke"));

  auto hung = shim.Call("GET", "/?hang");
  // (If the shim went away instead, show what it said.)
  INFO("call error: " << hung.error << "\ncontainer log:\n"
                      << (hung.status == 504 ? "" : shim.Logs()));
  REQUIRE(hung.status == 504);
  CHECK(json::parse(hung.body)["callId"] == hung.headers["x-call-id"]);
  CHECK(shim.Call("GET", "/").body == "fine\n");  // the shim is free again

  CHECK(shim.Call("POST", "/", std::string(2048, 'b')).status == 413);
  CHECK(shim.Call("POST", "/", std::string(512, 'b')).status == 200);

  auto slow = std::async(std::launch::async, [&] { return shim.Call("GET", "/?slow"); });
  REQUIRE(WaitForFile(shim.dir() + "/slow-started"));
  auto refused = shim.Call("GET", "/");
  CHECK(refused.status == 429);
  // Timeout is 2 s and the slow call takes 3 s: it is cut off too.
  CHECK(slow.get().status == 504);
}

// A call that finds none running is started on the shim's io thread; while one runs, the
// next start side by side on helper threads. Both paths: each caller gets its own body back
// whole (large ones too), and a timeout among concurrent calls still kills its group.
TEST_CASE("shim exec: lone and concurrent calls both start, bodies intact, timeouts kill",
          "[integration][shim]") {
  TestEngine engine;
  std::string script =
      "#!/bin/sh\n"
      "case \"$Http_Query\" in\n"
      "  hold) touch /run/gantry/hold-started; sleep 2; echo held; exit 0;;\n"
      "  hang) sh -c 'sleep 300' & touch /run/gantry/hang-started; wait; exit 0;;\n"
      "esac\n"
      "exec cat\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh", "GANTRY_TIMEOUT=4s",
                      "GANTRY_MAX_BODY=8m"});
  REQUIRE(shim.WaitReady());

  // Alone: the io-thread path, with a body many pipe buffers long.
  std::string big(3 * 1024 * 1024 + 17, 'z');
  for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
  auto lone = shim.Call("POST", "/", big);
  REQUIRE(lone.error.empty());
  CHECK(lone.status == 200);
  CHECK(lone.body == big);

  // One call holds a process, so each of the next ones starts on a helper thread.
  auto hold = std::async(std::launch::async, [&] { return shim.Call("GET", "/?hold"); });
  REQUIRE(WaitForFile(shim.dir() + "/hold-started"));
  auto hang = std::async(std::launch::async, [&] { return shim.Call("GET", "/?hang"); });
  REQUIRE(WaitForFile(shim.dir() + "/hang-started"));
  std::vector<std::future<ShimReply>> side_by_side;
  std::vector<std::string> bodies;
  for (int i = 0; i < 8; ++i) {
    bodies.push_back("call " + std::to_string(i) + " " +
                     std::string(200000 + static_cast<std::size_t>(i) * 1000, 'q'));
    side_by_side.push_back(std::async(std::launch::async, [&shim, body = bodies.back()] {
      return shim.Call("POST", "/", body);
    }));
  }
  for (std::size_t i = 0; i < side_by_side.size(); ++i) {
    auto reply = side_by_side[i].get();
    INFO("call " << i << ": " << reply.error);
    CHECK(reply.status == 200);
    CHECK(reply.body == bodies[i]);
  }
  auto held = hold.get();
  CHECK(held.status == 200);
  CHECK(held.body == "held\n");
  auto hung = hang.get();
  CHECK(hung.status == 504);
  // The timeout killed the whole group: its background sleep did not outlive it (re-parented
  // to the shim it would stay for 300 s), so in a while the shim has no children at all.
  auto info = engine.client().InspectContainer(shim.id());
  REQUIRE(info.ok());
  std::map<int, char> children = ChildrenOf(info->state.pid);
  for (int i = 0; i < 500 && !children.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    children = ChildrenOf(info->state.pid);
  }
  CHECK(children.empty());
  CHECK(shim.Call("POST", "/", "after").body == "after");
}

TEST_CASE("shim http: proxies to the function's own server over kept-alive connections",
          "[integration][shim]") {
  TestEngine engine;
  std::string server =
      "const http = require('http');\n"
      "http.createServer((req, res) => {\n"
      "  const chunks = [];\n"
      "  req.on('data', (c) => chunks.push(c));\n"
      "  req.on('end', () => {\n"
      "    if (req.url === '/crash') process.exit(4);\n"
      "    if (req.url === '/big') { res.end('0123456789'.repeat(100000)); return; }\n"
      "    if (req.url === '/events') {\n"
      "      let i = 0;\n"
      "      const t = setInterval(() => { res.write(`event ${i}\\n`); if (++i === 3) { "
      "clearInterval(t); res.end(); } }, 50);\n"
      "      return;\n"
      "    }\n"
      "    if (req.url === '/endless') { res.write('x'.repeat(100000)); return; }\n"
      "    console.log(`served ${req.method} ${req.url}`);\n"
      "    res.setHeader('X-Upstream-Port', String(req.socket.remotePort));\n"
      "    res.setHeader('X-Pid', String(process.pid));\n"
      "    res.statusCode = req.url.startsWith('/created') ? 201 : 200;\n"
      "    res.end(`${req.method} ${req.url} h=${req.headers['x-h']} "
      "body=${Buffer.concat(chunks)}`);\n"
      "  });\n"
      "}).listen(8080, '127.0.0.1');\n";
  ShimContainer shim(engine, kNode, {{"server.js", server, 0644}},
                     {"GANTRY_MODE=http", "GANTRY_COMMAND=node server.js",
                      "GANTRY_UPSTREAM=127.0.0.1:8080", "GANTRY_TIMEOUT=3s"});
  REQUIRE(shim.WaitReady());
  auto reply = shim.Call("POST", "/created/1?x=y", "the body", {{"X-H", "v"}});
  REQUIRE(reply.error.empty());
  CHECK(reply.status == 201);
  CHECK(reply.body == "POST /created/1?x=y h=v body=the body");
  std::string port = reply.headers["x-upstream-port"];
  CHECK_FALSE(port.empty());
  for (int i = 0; i < 3; ++i) {
    auto again = shim.Call("GET", "/again");
    CHECK(again.status == 200);
    CHECK(again.headers["x-upstream-port"] == port);  // the same kept-alive connection
  }
  // Large and open-ended bodies are relayed as they come (chunked when the server gave no
  // length); one that never ends is cut off at the timeout instead of hanging.
  auto big = shim.Call("GET", "/big");
  CHECK(big.status == 200);
  CHECK(big.body.size() == 1000000);
  CHECK(big.body.substr(999990) == "0123456789");
  auto events = shim.Call("GET", "/events");
  CHECK(events.status == 200);
  CHECK(events.headers["transfer-encoding"] == "chunked");
  CHECK(events.body == "event 0\nevent 1\nevent 2\n");
  CHECK_FALSE(events.headers["x-call-id"].empty());
  auto endless = shim.Call("GET", "/endless", "", {}, 20s);
  CHECK(endless.status == 0);
  CHECK_THAT(endless.error, Catch::StartsWith("read: "));
  CHECK(shim.Call("GET", "/again").status == 200);

  std::string pid = reply.headers["x-pid"];
  auto crashed = shim.Call("GET", "/crash");
  INFO("crash: " << crashed.status << " " << crashed.body << "\nlogs:\n" << shim.Logs());
  CHECK(crashed.status == 502);
  REQUIRE(shim.WaitReady());
  auto after = shim.Call("GET", "/after");
  CHECK(after.status == 200);
  CHECK(after.headers["x-pid"] != pid);  // restarted
  std::string logs = shim.Logs();
  CHECK_THAT(logs, Catch::Contains("stdout: served GET /again"));
  CHECK_THAT(logs, Catch::Contains("function server exited (exit status 4)"));
  // The crashing request was sent at most twice (once more on a new connection, as for a
  // kept-alive connection the server closed), not to every restarted server until the
  // timeout.
  std::size_t crashes = 0;
  for (auto at = logs.find("exited (exit status 4)"); at != std::string::npos;
       at = logs.find("exited (exit status 4)", at + 1)) {
    ++crashes;
  }
  CHECK(crashes <= 2);
}

const char kPythonHandler[] = R"(import os, time
calls = 0
def main(req):
    global calls
    calls += 1
    print("handling", req.method, req.path, flush=True)
    q = req.query
    if "fail" in q:
        raise ValueError("bad input: " + q["fail"])
    if "crash" in q:
        os._exit(7)
    if "hang" in q:
        time.sleep(3600)
    if "status" in q:
        return int(q["status"]), {"X-From": "python"}, "custom body"
    return {"method": req.method, "path": req.path, "query": q, "body": req.body,
            "header": req.headers.get("x-h"), "calls": calls, "pid": os.getpid()}

def lambda_style(event, context):
    return {"statusCode": 202, "headers": {"Content-Type": "text/plain"},
            "body": event["rawPath"] + " " + context.aws_request_id}
)";

TEST_CASE("shim runtime-api: python3 handler through the Lambda Runtime API",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kPython,
                     {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                      {"handler.py", kPythonHandler, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                      "GANTRY_HANDLER=handler.main", "GANTRY_TIMEOUT=3s"});
  REQUIRE(shim.WaitReady());

  auto reply = shim.Call("POST", "/orders?id=42&x=a%20b", "{\"n\": 1}", {{"X-H", "hv"}});
  REQUIRE(reply.error.empty());
  REQUIRE(reply.status == 200);
  json first = json::parse(reply.body);
  CHECK(first["method"] == "POST");
  CHECK(first["path"] == "/orders");
  CHECK(first["query"]["id"] == "42");
  CHECK(first["query"]["x"] == "a b");
  CHECK(first["body"] == "{\"n\": 1}");
  CHECK(first["header"] == "hv");
  json second = json::parse(shim.Call("GET", "/").body);
  CHECK(second["calls"] == 2);  // the same warm process
  CHECK(second["pid"] == first["pid"]);

  auto custom = shim.Call("GET", "/?status=201");
  CHECK(custom.status == 201);
  CHECK(custom.headers["x-from"] == "python");
  CHECK(custom.body == "custom body");

  auto failed = shim.Call("GET", "/?fail=oops", "", {{"X-Call-Id", "py-fail-1"}});
  CHECK(failed.status == 500);
  json error = json::parse(failed.body);
  CHECK(error["error"] == "bad input: oops");
  CHECK(error["type"] == "ValueError");
  CHECK(error["callId"] == "py-fail-1");

  auto crashed = shim.Call("GET", "/?crash");
  CHECK(crashed.status == 502);
  json third = json::parse(shim.Call("GET", "/").body);
  CHECK(third["pid"] != first["pid"]);  // restarted
  CHECK(third["calls"] == 1);

  auto hung = shim.Call("GET", "/?hang");
  // (If the shim went away instead, show what it said.)
  INFO("call error: " << hung.error << "\ncontainer log:\n"
                      << (hung.status == 504 ? "" : shim.Logs()));
  REQUIRE(hung.status == 504);
  json fourth = json::parse(shim.Call("GET", "/").body);
  CHECK(fourth["pid"] != third["pid"]);  // the hung handler was replaced

  std::string logs = shim.Logs();
  CHECK_THAT(logs, Catch::Contains("[py-fail-1] stdout: handling GET /"));
  CHECK_THAT(logs, Catch::Contains("[py-fail-1] stderr: ValueError: bad input: oops"));
  CHECK_THAT(logs, Catch::Contains("handler exited (exit status 7)"));
}

TEST_CASE("shim runtime-api: a Lambda-style python3 handler gets event and context",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kPython,
                     {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                      {"handler.py", kPythonHandler, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                      "GANTRY_HANDLER=handler.lambda_style"});
  REQUIRE(shim.WaitReady());
  auto reply = shim.Call("GET", "/some/path", "", {{"X-Call-Id", "lambda-1"}});
  CHECK(reply.status == 202);
  CHECK(reply.body == "/some/path lambda-1");
}

TEST_CASE("shim runtime-api: node handler through the Lambda Runtime API", "[integration][shim]") {
  TestEngine engine;
  std::string handler =
      "let calls = 0;\n"
      "exports.main = async (req) => {\n"
      "  calls += 1;\n"
      "  console.log(`handling ${req.method} ${req.path}`);\n"
      "  if (req.query.fail) throw new RangeError(`bad input: ${req.query.fail}`);\n"
      "  if (req.query.crash) process.exit(9);\n"
      "  if (req.query.hang) await new Promise((resolve) => setTimeout(resolve, 3600000));\n"
      "  if (req.query.status) return { statusCode: Number(req.query.status), headers: { 'X-From': "
      "'node' }, body: 'custom' };\n"
      "  return { method: req.method, path: req.path, query: req.query, body: req.body,\n"
      "           header: req.headers['x-h'], calls, pid: process.pid };\n"
      "};\n";
  ShimContainer shim(
      engine, kNode,
      {{"bootstrap.js", BootstrapFile("node/bootstrap.js"), 0755}, {"handler.js", handler, 0644}},
      {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=node /fn/bootstrap.js",
       "GANTRY_HANDLER=handler.main", "GANTRY_TIMEOUT=3s"});
  REQUIRE(shim.WaitReady());
  auto reply = shim.Call("PATCH", "/things?id=9", "raw body", {{"X-H", "hv"}});
  REQUIRE(reply.status == 200);
  json first = json::parse(reply.body);
  CHECK(first["method"] == "PATCH");
  CHECK(first["path"] == "/things");
  CHECK(first["query"]["id"] == "9");
  CHECK(first["body"] == "raw body");
  CHECK(first["header"] == "hv");
  CHECK(json::parse(shim.Call("GET", "/").body)["calls"] == 2);

  auto custom = shim.Call("GET", "/?status=418");
  CHECK(custom.status == 418);
  CHECK(custom.headers["x-from"] == "node");

  auto failed = shim.Call("GET", "/?fail=nope", "", {{"X-Call-Id", "node-fail-1"}});
  CHECK(failed.status == 500);
  json error = json::parse(failed.body);
  CHECK(error["error"] == "bad input: nope");
  CHECK(error["type"] == "RangeError");
  CHECK(error["callId"] == "node-fail-1");

  CHECK(shim.Call("GET", "/?crash=1").status == 502);
  json after_crash = json::parse(shim.Call("GET", "/").body);
  CHECK(after_crash["pid"] != first["pid"]);

  CHECK(shim.Call("GET", "/?hang=1").status == 504);
  json after_hang = json::parse(shim.Call("GET", "/").body);
  CHECK(after_hang["pid"] != after_crash["pid"]);

  CHECK_THAT(shim.LogsOnce("[node-fail-1] stderr: RangeError: bad input: nope"),
             Catch::Contains("[node-fail-1] stderr: RangeError: bad input: nope"));
}

// A handler that sleeps in the foreground (blocking its process) and says when it ran.
constexpr const char* kPythonSleeper = R"(import os, time

def main(req):
    q = req.query
    if "crash" in q:
        os._exit(7)
    start = time.time()
    if "mark" in q:
        open("/run/gantry/" + q["mark"], "w").close()
    time.sleep(float(q.get("sleep", "1")))
    return {"start": start, "end": time.time(), "pid": os.getpid()}
)";

constexpr const char* kNodeSleeper = R"(const fs = require('fs');
exports.main = async (req) => {
  if (req.query.crash) process.exit(9);
  const start = Date.now() / 1000;
  if (req.query.mark) fs.writeFileSync('/run/gantry/' + req.query.mark, '');
  // Blocks the whole process, as a CPU-bound or synchronous handler would.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(req.query.sleep || 1) * 1000);
  return { start, end: Date.now() / 1000, pid: process.pid };
};
)";

// Four calls at once, each sleeping `sleep` seconds; returns their answers (start, end, pid)
// in call order. Cold handlers start on demand, a second or more each on a loaded machine
// (node), so a cold round sleeps long enough that a late start still overlaps.
std::vector<json> FourAtOnce(const ShimContainer& shim, const std::string& sleep) {
  std::vector<std::future<ShimReply>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async,
                               [&shim, &sleep] { return shim.Call("GET", "/?sleep=" + sleep); }));
  }
  std::vector<json> answers;
  for (auto& call : calls) {
    ShimReply reply = call.get();
    INFO("status " << reply.status << " error " << reply.error << " body " << reply.body);
    REQUIRE(reply.status == 200);
    answers.push_back(json::parse(reply.body));
  }
  return answers;
}

// Every interval overlaps every other one: the latest start is before the earliest end.
void CheckAllOverlap(const std::vector<json>& answers, const std::string& what) {
  double latest_start = 0;
  double earliest_end = 1e300;
  double first_start = 1e300;
  std::set<int64_t> pids;
  for (const json& a : answers) {
    latest_start = std::max(latest_start, a["start"].get<double>());
    earliest_end = std::min(earliest_end, a["end"].get<double>());
    first_start = std::min(first_start, a["start"].get<double>());
    pids.insert(a["pid"].get<int64_t>());
  }
  std::string intervals;
  for (const json& a : answers) {
    char one[64];
    std::snprintf(one, sizeof one, " [%.3f, %.3f]", a["start"].get<double>() - first_start,
                  a["end"].get<double>() - first_start);
    intervals += one;
  }
  std::printf("%s: intervals (s, from the first start):%s\n", what.c_str(), intervals.c_str());
  INFO(what << " intervals:" << intervals);
  CHECK(latest_start < earliest_end);
  CHECK(pids.size() == 4);  // one handler process per call in flight
}

TEST_CASE("shim runtime-api: concurrency 4 runs four python3 calls at the same time",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kPython,
                     {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                      {"handler.py", kPythonSleeper, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                      "GANTRY_HANDLER=handler.main", "GANTRY_MAX_INFLIGHT=4"});
  REQUIRE(shim.WaitReady());
  CheckAllOverlap(FourAtOnce(shim, "8"), "python3 (cold handlers)");
  // Again, now that all four handlers are warm.
  CheckAllOverlap(FourAtOnce(shim, "1"), "python3 (warm handlers)");
  CHECK_THAT(shim.Logs(), Catch::Contains("handler 3 ready"));
}

TEST_CASE("shim runtime-api: concurrency 4 runs four node calls at the same time",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kNode,
                     {{"bootstrap.js", BootstrapFile("node/bootstrap.js"), 0755},
                      {"handler.js", kNodeSleeper, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=node /fn/bootstrap.js",
                      "GANTRY_HANDLER=handler.main", "GANTRY_MAX_INFLIGHT=4"});
  REQUIRE(shim.WaitReady());
  CheckAllOverlap(FourAtOnce(shim, "8"), "node (cold handlers)");
  CheckAllOverlap(FourAtOnce(shim, "1"), "node (warm handlers)");
}

TEST_CASE("shim runtime-api: a handler that dies fails only its own call and is restarted",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kPython,
                     {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                      {"handler.py", kPythonSleeper, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                      "GANTRY_HANDLER=handler.main", "GANTRY_MAX_INFLIGHT=2"});
  REQUIRE(shim.WaitReady());
  auto slow = std::async(std::launch::async,
                         [&] { return shim.Call("GET", "/?sleep=2&mark=slow-started"); });
  REQUIRE(WaitForFile(shim.dir() + "/slow-started"));
  // The slow call holds one handler; this one gets the other (started for it) and kills it.
  auto crashed = shim.Call("GET", "/?crash=1");
  CHECK(crashed.status == 502);
  auto survived = slow.get();
  CHECK(survived.status == 200);
  json survivor = json::parse(survived.body);
  // Both handlers serve again: two calls at once still overlap.
  auto a = std::async(std::launch::async, [&] { return shim.Call("GET", "/?sleep=1"); });
  auto b = std::async(std::launch::async, [&] { return shim.Call("GET", "/?sleep=1"); });
  json ja = json::parse(a.get().body);
  json jb = json::parse(b.get().body);
  CHECK(std::max(ja["start"].get<double>(), jb["start"].get<double>()) <
        std::min(ja["end"].get<double>(), jb["end"].get<double>()));
  CHECK(ja["pid"] != jb["pid"]);
  CHECK_THAT(shim.Logs(), Catch::Contains("handler 1 exited (exit status 7)"));
}

TEST_CASE("shim: SIGTERM drains in-flight calls, refuses new ones and exits 0",
          "[integration][shim]") {
  TestEngine engine;
  std::string script =
      "#!/bin/sh\n"
      "if [ \"$Http_Query\" = slow ]; then touch /run/gantry/slow-started; sleep 2; echo drained "
      "ok; exit 0; fi\n"
      "echo quick\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh", "GANTRY_GRACE=8s"});
  REQUIRE(shim.WaitReady());
  auto slow = std::async(std::launch::async, [&] { return shim.Call("GET", "/?slow"); });
  REQUIRE(WaitForFile(shim.dir() + "/slow-started"));
  REQUIRE(engine.client().KillContainer(shim.id(), "SIGTERM").ok());
  // Draining: not ready, new calls refused -- until the last call is done and it exits.
  // (The signal arrives asynchronously: wait for the shim to notice it.)
  ShimReply ready;
  for (int i = 0; i < 500; ++i) {
    ready = shim.Call("GET", "/_/ready");
    if (ready.status != 200) break;
    std::this_thread::sleep_for(10ms);
  }
  auto refused = shim.Call("GET", "/");
  auto done = slow.get();
  CHECK(done.status == 200);
  CHECK(done.body == "drained ok\n");
  CHECK(ready.status == 503);
  CHECK(refused.status == 503);
  CHECK(WaitExit(engine, shim.id()) == 0);
  CHECK_THAT(shim.Logs(), Catch::Contains("SIGTERM: draining 1 call(s)"));
}

TEST_CASE("shim runtime-api: SIGTERM lets the call in flight finish, then stops the handler",
          "[integration][shim]") {
  TestEngine engine;
  std::string handler =
      "import time\n"
      "def main(req):\n"
      "    if 'slow' in req.query:\n"
      "        open('/run/gantry/slow-started', 'w').close()\n"
      "        time.sleep(2)\n"
      "    return 'handled ' + req.path\n";
  ShimContainer shim(engine, kPython,
                     {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                      {"handler.py", handler, 0644}},
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                      "GANTRY_HANDLER=handler.main"});
  REQUIRE(shim.WaitReady());
  auto slow = std::async(std::launch::async, [&] { return shim.Call("GET", "/last?slow=1"); });
  REQUIRE(WaitForFile(shim.dir() + "/slow-started"));
  REQUIRE(engine.client().KillContainer(shim.id(), "SIGTERM").ok());
  auto done = slow.get();
  CHECK(done.status == 200);
  CHECK(done.body == "handled /last");
  CHECK(WaitExit(engine, shim.id()) == 0);
  std::string logs = shim.Logs();
  CHECK_THAT(logs, Catch::Contains("SIGTERM: draining 1 call(s)"));
  CHECK_THAT(logs, Catch::Contains("handler stopped"));
}

// What came back on a raw connection: the response head as text, how many body bytes
// followed it (not kept), and whether the connection broke (reset, error) instead of closing.
struct RawExchange {
  std::string head;
  size_t body_bytes = 0;
  bool broken = false;
  bool write_failed = false;
};

// Writes `request` (all of it, as a client that does not wait for the answer would) to the
// unix socket, then reads until the shim closes; every read and write bounded by 20 s.
RawExchange Exchange(const std::string& path, const std::string& request) {
  RawExchange out;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      out.write_failed = true;
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      out.broken = true;
      break;
    }
    if (n == 0) break;
    if (out.head.empty()) {
      data.append(buffer, static_cast<size_t>(n));
      auto end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        out.head = data.substr(0, end + 4);
        out.body_bytes = data.size() - end - 4;
        if (out.head.find("413") != std::string::npos) out.head += data.substr(end + 4, 512);
      }
    } else {
      out.body_bytes += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  if (out.head.empty()) out.head = data.substr(0, 4096);
  return out;
}

TEST_CASE("shim: a body over the limit is a 413 JSON answer, never a reset, and the shim lives on",
          "[integration][shim]") {
  TestEngine engine;
  ShimContainer shim(engine, kBase, {},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=cat", "GANTRY_MAX_BODY=64k"});
  REQUIRE(shim.WaitReady());
  const std::string big(8 << 20, 'b');  // far more than the socket buffers hold

  SECTION("with a Content-Length") {
    auto r = Exchange(shim.socket_path(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                              std::to_string(big.size()) + "\r\n\r\n" + big);
    INFO(r.head);
    CHECK_FALSE(r.write_failed);
    CHECK_FALSE(r.broken);
    CHECK_THAT(r.head, Catch::StartsWith("HTTP/1.1 413"));
    CHECK_THAT(r.head, Catch::Contains("application/json") && Catch::Contains("\"error\""));
  }
  SECTION("chunked") {
    std::string request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < big.size(); at += 65536)
      request += "10000\r\n" + big.substr(at, 65536) + "\r\n";
    request += "0\r\n\r\n";
    auto r = Exchange(shim.socket_path(), request);
    INFO(r.head);
    CHECK_FALSE(r.write_failed);
    CHECK_FALSE(r.broken);
    CHECK_THAT(r.head, Catch::StartsWith("HTTP/1.1 413"));
    CHECK_THAT(r.head, Catch::Contains("\"error\""));
  }
  auto after = shim.Call("POST", "/", "still here");
  CHECK(after.status == 200);
  CHECK(after.body == "still here");
}

TEST_CASE("shim exec: a large stdout is streamed (chunked) as it comes, an OOM-style kill is named",
          "[integration][shim]") {
  TestEngine engine;
  std::string script =
      "#!/bin/sh\n"
      "case \"$Http_Query\" in\n"
      "  big) head -c 50000000 /dev/zero;;\n"
      "  small) echo small;;\n"
      "  killed) kill -9 $$;;\n"
      "esac\n";
  ShimContainer shim(engine, kBase, {{"handler.sh", script, 0755}},
                     {"GANTRY_MODE=exec", "GANTRY_COMMAND=./handler.sh"});
  REQUIRE(shim.WaitReady());
  auto big =
      Exchange(shim.socket_path(), "GET /?big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  INFO(big.head);
  CHECK_THAT(big.head, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(big.head, Catch::Contains("Transfer-Encoding: chunked"));
  // 50 MB of zeros plus chunk framing: the whole output came through.
  CHECK(big.body_bytes > 50000000u);
  CHECK(big.body_bytes < 50000000u + 100000u);

  auto small = shim.Call("GET", "/?small");
  CHECK(small.status == 200);
  CHECK(small.body == "small\n");
  CHECK(small.headers.count("content-length") == 1);  // small output is answered whole

  auto killed = shim.Call("GET", "/?killed");
  CHECK(killed.status == 500);
  CHECK_THAT(killed.body, Catch::Contains("function process was killed (out of memory?)"));
}

TEST_CASE("shim: a function that can't run makes the shim exit with a clear status",
          "[integration][shim]") {
  TestEngine engine;
  SECTION("exec command not found: 127") {
    ShimContainer shim(engine, kBase, {}, {"GANTRY_MODE=exec", "GANTRY_COMMAND=/no/such/program"});
    CHECK(WaitExit(engine, shim.id()) == 127);
    CHECK_THAT(shim.Logs(),
               Catch::Contains(
                   "function can't run: command not found or not executable: /no/such/program"));
  }
  SECTION("handler that fails to import: init error, then 3 after the restarts") {
    ShimContainer shim(engine, kPython,
                       {{"bootstrap.py", BootstrapFile("python3/bootstrap.py"), 0755},
                        {"handler.py", "import no_such_module\n", 0644}},
                       {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                        "GANTRY_HANDLER=handler.main"});
    CHECK(WaitExit(engine, shim.id()) == 3);
    std::string logs = shim.Logs();
    CHECK_THAT(logs, Catch::Contains("handler init error"));
    CHECK_THAT(logs, Catch::Contains("No module named 'no_such_module'"));
    CHECK_THAT(logs,
               Catch::Contains("function can't run: handler exited 5 times before getting ready"));
  }
}

}  // namespace
}  // namespace gantry::testing
