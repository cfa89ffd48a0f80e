// gantryd end to end (CTest label "integration"): the real binary on 127.0.0.1:<free port>
// with a state directory of its own and --label gantry.test=<value>, driven over HTTP as
// the CLI and OpenFaaS clients drive it. Every container and image carries the test label
// and is removed by TestEngine even when a check fails.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
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
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("gantryd: apply, invoke cold then warm, unchanged apply, describe, delete",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  auto echo = LoadExampleInto(engine.value(), "echo");
  std::string bundle = Bundle(echo);

  Reply created =
      gantryd.Call("PUT", FunctionPath(echo), bundle, {"Content-Type: application/x-tar"});
  INFO(gantryd.Log());
  REQUIRE(created.status == 201);
  CHECK(created.Json()["result"] == "created");
  CHECK(created.Json()["generation"] == 1);

  std::string invoke = "/function/echo." + engine.value();
  Reply cold = gantryd.Call("POST", invoke, "hello gantry", {}, /*auth=*/false);
  CHECK(cold.status == 200);
  CHECK(cold.body == "hello gantry");
  CHECK(cold.headers["x-cold-start"] == "true");
  CHECK_FALSE(cold.headers["x-call-id"].empty());
  CHECK_FALSE(cold.headers["x-duration-seconds"].empty());
  Reply warm = gantryd.Call("POST", invoke + "/any/path?x=1", "again", {}, false);
  CHECK(warm.status == 200);
  CHECK(warm.body == "again");
  CHECK(warm.headers["x-cold-start"] == "false");
  std::set<std::string> running = ContainersOf(engine, "echo");
  CHECK(running.size() == 1);

  // The same bundle again: unchanged, nothing built, nothing restarted.
  Reply same = gantryd.Call("PUT", FunctionPath(echo), bundle, {"Content-Type: application/x-tar"});
  CHECK(same.status == 200);
  CHECK(same.Json()["result"] == "unchanged");
  // Offering only the digest is enough when nothing changed...
  Reply offered = gantryd.Call("PUT", FunctionPath(echo), "",
                               {"X-Gantry-Bundle-Digest: " + builder::BundleDigest(bundle)});
  CHECK(offered.status == 200);
  CHECK(offered.Json()["result"] == "unchanged");
  // ... and a digest that doesn't match asks for the bundle.
  Reply stale = gantryd.Call("PUT", FunctionPath(echo), "", {"X-Gantry-Bundle-Digest: sha256:00"});
  CHECK(stale.status == 412);
  CHECK(ContainersOf(engine, "echo") == running);
  CHECK(gantryd.Call("POST", invoke, "still", {}, false).headers["x-cold-start"] == "false");

  Reply described = gantryd.Call("GET", FunctionPath(echo));
  REQUIRE(described.status == 200);
  json d = described.Json();
  CHECK(d["status"]["generation"] == 1);
  CHECK(d["status"]["readyReplicas"] == 1);
  CHECK(d["spec"]["runtime"] == "exec");
  CHECK_FALSE(d["status"]["lastInvocation"].is_null());
  Reply list = gantryd.Call("GET", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions");
  REQUIRE(list.status == 200);
  CHECK(list.Json()["items"].size() == 1);

  Reply metrics = gantryd.Call("GET", "/metrics", "", {}, false);
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.body, Catch::Contains("function=\"echo\"") &&
                               Catch::Contains("gantry_replicas") &&
                               Catch::Contains("gantry_queue_depth") &&
                               Catch::Contains("gantry_builds_total{outcome="));

  Reply deleted = gantryd.Call("DELETE", FunctionPath(echo));
  CHECK(deleted.status == 200);
  CHECK(ContainersOf(engine, "echo").empty());
  Reply gone = gantryd.Call("POST", invoke, "x", {}, false);
  CHECK(gone.status == 404);
  CHECK(gone.Json().contains("error"));
  CHECK(gantryd.Call("GET", FunctionPath(echo)).status == 404);
}

TEST_CASE("gantryd: management needs the token and bad input gets a JSON 4xx",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  CHECK(fs::status(state.path() / "token").permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(gantryd.Call("GET", "/healthz", "", {}, false).status == 200);

  Reply no_token = gantryd.Call("GET", "/apis/gantry/v1/functions", "", {}, false);
  CHECK(no_token.status == 401);
  CHECK(no_token.Json().contains("error"));
  CHECK(gantryd.Call("GET", "/apis/gantry/v1/functions", "", {"Authorization: Bearer wrong"}, false)
            .status == 401);
  CHECK(gantryd.Call("GET", "/system/functions", "", {}, false).status == 401);
  CHECK(gantryd.Call("GET", "/apis/gantry/v1/functions").status == 200);

  Reply garbage = gantryd.Call(
      "PUT", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions/x", "not a tar");
  CHECK(garbage.status == 400);
  CHECK_THAT(garbage.Json().value("error", ""), Catch::Contains("bundle"));

  auto echo = LoadExampleInto(engine.value(), "echo");
  Reply mismatch = gantryd.Call(
      "PUT", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions/other", Bundle(echo));
  CHECK(mismatch.status == 400);
  CHECK_THAT(mismatch.Json().value("error", ""), Catch::Contains("URL names"));

  Reply unknown = gantryd.Call("GET", "/function/nope." + engine.value(), "", {}, false);
  CHECK(unknown.status == 404);
  CHECK(unknown.Json().contains("error"));
  CHECK(gantryd.Call("GET", "/system/function/nope?namespace=" + engine.value()).status == 404);
}

TEST_CASE("gantryd: OpenFaaS clients deploy, list, scale and delete an image",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  // An image serving HTTP on 8080, as OpenFaaS images do: the custom-dockerfile example.
  auto web = LoadExampleInto(engine.value(), "custom-dockerfile");
  Reply built = gantryd.Call("PUT", FunctionPath(web), Bundle(web));
  INFO(gantryd.Log());
  REQUIRE(built.status == 201);
  std::string image = built.Json()["image"];

  json info = gantryd.Call("GET", "/system/info").Json();
  CHECK(info["provider"]["provider"] == "gantry");
  CHECK(info["provider"]["orchestration"] == "docker");

  json deployment = {{"service", "of-web"},
                     {"image", image},
                     {"namespace", engine.value()},
                     {"envVars", {{"MODE", "test"}}},
                     {"labels", {{"com.openfaas.scale.min", "1"}}}};
  // faas-cli tries PUT first and falls back to POST on 404.
  CHECK(gantryd.Call("PUT", "/system/functions", deployment.dump()).status == 404);
  Reply posted = gantryd.Call("POST", "/system/functions", deployment.dump());
  REQUIRE(posted.status == 202);
  CHECK(gantryd.Call("PUT", "/system/functions", deployment.dump()).status == 200);

  Reply called = gantryd.Call("GET", "/function/of-web." + engine.value() + "/time", "", {}, false);
  CHECK(called.status == 200);
  CHECK_THAT(called.body, Catch::Contains("\"now\""));

  json functions = gantryd.Call("GET", "/system/functions?namespace=" + engine.value()).Json();
  REQUIRE(functions.is_array());
  bool found = false;
  for (const auto& f : functions) {
    if (f["name"] == "of-web") {
      found = true;
      CHECK(f["image"] == image);
      CHECK(f["envVars"]["MODE"] == "test");
      CHECK(f["availableReplicas"].get<int>() >= 1);
    }
  }
  CHECK(found);
  json status = gantryd.Call("GET", "/system/function/of-web." + engine.value()).Json();
  CHECK(status["name"] == "of-web");
  CHECK(gantryd
            .Call("POST", "/system/scale-function/of-web." + engine.value(),
                  json{{"serviceName", "of-web"}, {"replicas", 2}}.dump())
            .status == 202);

  json secret = {{"name", "api-key"}, {"namespace", engine.value()}, {"value", "s3cret"}};
  CHECK(gantryd.Call("POST", "/system/secrets", secret.dump()).status == 201);
  json secrets = gantryd.Call("GET", "/system/secrets?namespace=" + engine.value()).Json();
  CHECK(secrets.dump().find("s3cret") == std::string::npos);  // names only
  CHECK(secrets.dump().find("api-key") != std::string::npos);
  CHECK(gantryd.Call("DELETE", "/system/secrets", secret.dump()).status ==
        200);  // as OpenFaaS answers (faas-cli: 200 or 202)

  json del = {{"functionName", "of-web"}, {"namespace", engine.value()}};
  CHECK(gantryd.Call("DELETE", "/system/functions", del.dump()).status == 200);
  CHECK(gantryd.Call("DELETE", "/system/functions", del.dump()).status == 404);
  CHECK(ContainersOf(engine, "of-web").empty());
  CHECK(gantryd.Call("DELETE", FunctionPath(web)).status == 200);
}

TEST_CASE("gantryd: after kill -9 a restart adopts the warm replica and serves again",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "fn";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: warm\nspec:\n"
         "  runtime: exec\n  command: [\"cat\"]\n  scale: {min: 1, max: 2}\n";
  auto warm = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  std::string invoke = "/function/warm." + engine.value();
  std::set<std::string> before;
  {
    Gantryd gantryd(engine, state.path());
    REQUIRE(gantryd.Call("PUT", FunctionPath(warm), Bundle(warm)).status == 201);
    CHECK(gantryd.Call("POST", invoke, "one", {}, false).body == "one");
    before = ContainersOf(engine, "warm");
    REQUIRE(before.size() == 1);
    gantryd.Stop(SIGKILL);
  }
  // An orphan of an older generation, as a crash mid-rollout could leave (made by this
  // instance: a gantryd removes only its own).
  docker::ContainerSpec orphan{
      .name = engine.Name("orphan"), .image = "gantry/base:bookworm", .cmd = {"sleep", "60"}};
  orphan.labels = engine.labels();
  std::string instance;
  std::getline(std::ifstream(state.path() / "instance-id"), instance);
  REQUIRE_FALSE(instance.empty());
  orphan.labels["gantry.instance"] = instance;
  orphan.labels["gantry.function"] = "warm";
  orphan.labels["gantry.namespace"] = engine.value();
  orphan.labels["gantry.generation"] = "0";
  orphan.labels["gantry.replica"] = "orphan";
  auto orphan_id = engine.client().CreateContainer(orphan);
  REQUIRE(orphan_id.ok());
  REQUIRE(engine.client().StartContainer(*orphan_id).ok());

  Gantryd again(engine, state.path());
  auto t0 = std::chrono::steady_clock::now();
  Reply served = again.Call("POST", invoke, "two", {}, false);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  WARN("first call after restart answered in " << ms << " ms");
  INFO(again.Log());
  CHECK(served.status == 200);
  CHECK(served.body == "two");
  CHECK(served.headers["x-cold-start"] == "false");  // the adopted replica, not a new one
  CHECK(ContainersOf(engine, "warm") == before);     // the orphan is gone, nothing new
  CHECK(again.Call("DELETE", FunctionPath(warm)).status == 200);
}

TEST_CASE("gantryd: a changed apply rolls out a new generation without dropping calls",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "fn";
  fs::create_directories(src / "src");
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: roll\nspec:\n"
         "  runtime: exec\n  command: [\"sh\", \"answer.sh\"]\n  source: ./src\n"
         "  concurrency: 4\n  scale: {min: 1, max: 2}\n";
  std::ofstream(src / "src/answer.sh") << "echo v1\n";
  auto v1 = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Gantryd gantryd(engine, state.path());
  INFO(gantryd.Log());
  REQUIRE(gantryd.Call("PUT", FunctionPath(v1), Bundle(v1)).status == 201);
  std::string invoke = "/function/roll." + engine.value();
  REQUIRE(gantryd.Call("GET", invoke, "", {}, false).body == "v1\n");
  std::set<std::string> old_replicas = ContainersOf(engine, "roll");

  // Callers keep calling while v2 is applied: every call must be answered, by v1 or v2.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, saw_v2{0};
  std::string first_failure;
  std::mutex failure_mu;
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      while (!stop) {
        Reply r = gantryd.Call("GET", invoke, "", {}, false);
        if (r.status == 200 && (r.body == "v1\n" || r.body == "v2\n")) {
          ++ok;
          if (r.body == "v2\n") ++saw_v2;
        } else {
          ++failed;
          std::lock_guard lock(failure_mu);
          if (first_failure.empty()) first_failure = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  std::ofstream(src / "src/answer.sh") << "echo v2\n";
  auto v2 = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Reply configured = gantryd.Call("PUT", FunctionPath(v2), Bundle(v2));
  CHECK(configured.status == 200);
  CHECK(configured.Json()["result"] == "configured");
  CHECK(configured.Json()["generation"] == 2);
  // Once apply has answered, new calls reach v2.
  for (int i = 0; i < 100 && saw_v2 < 5; ++i) std::this_thread::sleep_for(50ms);
  stop = true;
  for (auto& c : callers) c.join();
  INFO("first failed call: " << first_failure);
  CHECK(failed == 0);
  CHECK(ok > 0);
  CHECK(saw_v2 >= 5);
  CHECK(gantryd.Call("GET", invoke, "", {}, false).body == "v2\n");
  // The old generation drains and goes away.
  std::set<std::string> now;
  for (int i = 0; i < 100; ++i) {
    now = ContainersOf(engine, "roll");
    bool old_left = false;
    for (const auto& id : old_replicas) old_left = old_left || now.count(id) > 0;
    if (!old_left) break;
    std::this_thread::sleep_for(100ms);
  }
  for (const auto& id : old_replicas) CHECK(now.count(id) == 0);
  CHECK(gantryd.Call("GET", FunctionPath(v2)).Json()["status"]["generation"] == 2);
  CHECK(gantryd.Call("DELETE", FunctionPath(v2)).status == 200);
}

// Takes one HTTP request on 127.0.0.1:<port> and answers 200: where async results land.
class CallbackReceiver {
 public:
  CallbackReceiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 4) == 0);
  }
  ~CallbackReceiver() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/done"; }

  // The raw request (head and body), or "" when none came within `limit`.
  std::string Wait(std::chrono::seconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count() * 1000)) <= 0) return "";
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::string request;
    char buf[4096];
    size_t want = std::string::npos;
    while (request.size() < want) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
      auto end = request.find("\r\n\r\n");
      if (end != std::string::npos && want == std::string::npos) {
        std::smatch m;
        std::string head = request.substr(0, end);
        static const std::regex length("[Cc]ontent-[Ll]ength: *(\\d+)");
        want = end + 4 + (std::regex_search(head, m, length) ? std::stoul(m[1]) : 0);
      }
    }
    static const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::write(c, kOk, sizeof kOk - 1);
    ::close(c);
    return request;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_CASE("gantryd: an accepted async call survives kill -9 and its result reaches the callback",
          "[integration][gantryd]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "fn";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: later\nspec:\n"
         "  runtime: exec\n  command: [\"cat\"]\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  CallbackReceiver callback;
  std::string call_id;
  {
    // This gantryd only queues: nothing runs the call before it dies.
    Gantryd queue_only(engine, state.path(), {"--async-workers", "0", "--callback-deny", "none"});
    REQUIRE(queue_only.Call("PUT", FunctionPath(fn), Bundle(fn)).status == 201);
    Reply accepted =
        queue_only.Call("POST", "/async-function/later." + engine.value() + "/sub?q=1",
                        "hello later", {"X-Callback-Url: " + callback.url()}, /*auth=*/false);
    REQUIRE(accepted.status == 202);
    call_id = accepted.headers["x-call-id"];
    CHECK_FALSE(call_id.empty());
    CHECK(accepted.Json()["callId"] == call_id);
    CHECK(queue_only.Call("POST", "/async-function/", "", {}, false).status >= 400);
    queue_only.Stop(SIGKILL);
  }
  Gantryd again(engine, state.path(), {"--callback-deny", "none"});  // the receiver is on loopback
  INFO(again.Log());
  std::string request = callback.Wait(60s);
  REQUIRE_FALSE(request.empty());
  CHECK_THAT(request, Catch::StartsWith("POST /done "));
  CHECK_THAT(request,
             Catch::Contains("X-Call-Id: " + call_id) && Catch::Contains("X-Function-Status: 200"));
  CHECK_THAT(request, Catch::EndsWith("\r\n\r\nhello later"));
  CHECK(again.Call("DELETE", FunctionPath(fn)).status == 200);
}

}  // namespace
}  // namespace gantry::testing
