// Async invocation end to end (CTest label "integration"): the real gantryd with a state
// directory of its own and --label gantry.test=<value>; callback receivers and raw
// listeners on 127.0.0.1 only. What a caller of the unauthenticated /async-function route
// can and cannot make gantryd do.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Deploys an exec function running `command` (a YAML flow sequence) into the test's namespace.
spec::FunctionSpec Deploy(Gantryd& gantryd, TestEngine& engine, const fs::path& dir,
                          const std::string& name, const std::string& command) {
  fs::path src = dir / name;
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
      << "\nspec:\n  runtime: exec\n  command: " << command << "\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  auto bundle = builder::MakeBundle(fn);
  REQUIRE(bundle.ok());
  Reply put = gantryd.Call("PUT", FunctionPath(fn), *bundle, {"Content-Type: application/x-tar"});
  INFO(put.body);
  REQUIRE(put.status == 201);
  return fn;
}

// An unauthenticated POST whose path goes out exactly as written (curl would otherwise
// squash "/../").
Reply RawPost(const Gantryd& gantryd, const std::string& path,
              std::vector<std::string> headers = {}, const std::string& body = "x") {
  return gantryd.Call("POST", path, body, std::move(headers), /*auth=*/false);
}

// A TCP listener on 127.0.0.1 that answers each request it takes with `answer`.
class Listener {
 public:
  explicit Listener(
      std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_) + "/done";
  }

  // Whether a connection is waiting to be accepted now.
  bool Pending() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // The raw request (head and body) of the next connection, or "" when none came in `limit`.
  std::string Take(std::chrono::seconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count() * 1000)) <= 0) return "";
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::string request;
    char buf[4096];
    size_t want = std::string::npos;
    while (request.size() < want) {
      pollfd in{c, POLLIN, 0};
      if (::poll(&in, 1, 10'000) <= 0) break;
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
    (void)!::write(c, answer_.data(), answer_.size());
    ::close(c);
    return request;
  }

 private:
  std::string answer_;
  int fd_ = -1;
  int port_ = 0;
};

// Waits (up to a minute) for gantryd's log to match `pattern`; false if it never did.
bool WaitForLog(Gantryd& gantryd, const std::string& pattern) {
  std::regex re(pattern);
  for (auto until = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < until;) {
    if (std::regex_search(gantryd.Log(), re)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string Escape(const std::string& text) {
  return std::regex_replace(text, std::regex(R"([.?*+^$()\[\]{}|\\/])"), R"(\$&)");
}

TEST_CASE(
    "async: unknown functions, traversal paths, bad callbacks and call ids are refused, the queue "
    "is bounded",
    "[integration][async]") {
  TestEngine engine;
  StateDir state(engine);
  // Only queues: every accepted call stays in the queue for the test to count.
  Gantryd gantryd(engine, state.path(), {"--async-workers", "0", "--async-queue-max", "3"});
  INFO(gantryd.Log());
  auto fn = Deploy(gantryd, engine, state.path(), "q", "[\"cat\"]");
  const std::string base = "/async-function/q." + engine.value();

  Reply unknown = RawPost(gantryd, "/async-function/nope." + engine.value());
  CHECK(unknown.status == 404);
  CHECK(unknown.Json()["error"] == "function nope." + engine.value() + " is not deployed");

  for (std::string path :
       {base + "/../../../system/info", base + "/%2e%2e/%2e%2e/system/info", base + "/a%2F..%2Fb",
        std::string("/async-function/q/../../../system/info")}) {
    INFO(path);
    Reply r = RawPost(gantryd, path);
    CHECK(r.status == 400);
    CHECK(r.Json().contains("error"));
  }
  for (std::string url :
       {"gopher://127.0.0.1:6379/_SET%20x%201", "file:///etc/passwd", "dict://127.0.0.1:11211/stat",
        "http://127.0.0.1:8080/system/info", "http://[::1]/", "http://169.254.169.254/latest"}) {
    INFO(url);
    Reply r = RawPost(gantryd, base, {"X-Callback-Url: " + url});
    CHECK(r.status == 400);
    CHECK(r.Json().contains("error"));
  }
  CHECK(RawPost(gantryd, base, {"X-Call-Id: has spaces"}).status == 400);
  CHECK(RawPost(gantryd, base, {"X-Call-Id: " + std::string(65, 'a')}).status == 400);

  Reply first = RawPost(gantryd, base, {"X-Call-Id: dup-1"});
  CHECK(first.status == 202);
  Reply again = RawPost(gantryd, base, {"X-Call-Id: dup-1"});
  CHECK(again.status == 409);
  CHECK(again.Json()["error"] == "call id dup-1 already queued");

  CHECK(RawPost(gantryd, base).status == 202);
  CHECK(RawPost(gantryd, base).status == 202);
  Reply full = RawPost(gantryd, base);
  CHECK(full.status == 429);
  CHECK(full.Json()["error"] == "the async queue is full (3 calls)");
  CHECK(gantryd.Call("GET", "/healthz", "", {}, false).status == 200);
  CHECK(gantryd.Call("DELETE", FunctionPath(fn)).status == 200);
}

TEST_CASE(
    "async: the function gets the path and raw query as sent, callbacks never follow redirects",
    "[integration][async]") {
  TestEngine engine;
  StateDir state(engine);
  // Loopback callbacks allowed: the receivers of this test listen on 127.0.0.1.
  Gantryd gantryd(engine, state.path(), {"--callback-deny", "none"});
  INFO(gantryd.Log());
  auto fn = Deploy(gantryd, engine, state.path(), "query",
                   "[\"sh\", \"-c\", \"printf '%s %s' \\\"$Http_Path\\\" \\\"$Http_Query\\\"\"]");
  Listener callback;
  Reply accepted =
      RawPost(gantryd, "/async-function/query." + engine.value() + "/p/x.y?a=x%26y&b=%2F&c=1+2",
              {"X-Callback-Url: " + callback.url()});
  REQUIRE(accepted.status == 202);
  std::string request = callback.Take(60s);
  REQUIRE_FALSE(request.empty());
  CHECK_THAT(request, Catch::Contains("X-Function-Status: 200"));
  CHECK_THAT(request, Catch::EndsWith("\r\n\r\n/p/x.y a=x%26y&b=%2F&c=1+2"));

  // A callback answering with a redirect: reported, not followed.
  Listener elsewhere;
  Listener redirect("HTTP/1.1 307 Temporary Redirect\r\nLocation: " + elsewhere.url() +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  Reply redirected = RawPost(gantryd, "/async-function/query." + engine.value(),
                             {"X-Callback-Url: " + redirect.url(), "X-Call-Id: redirected"});
  REQUIRE(redirected.status == 202);
  REQUIRE_FALSE(redirect.Take(60s).empty());
  CHECK(WaitForLog(gantryd,
                   "async redirected: callback to " + Escape(redirect.url()) + " failed: 307"));
  CHECK_FALSE(elsewhere.Pending());
  CHECK(gantryd.Call("DELETE", FunctionPath(fn)).status == 200);
}

TEST_CASE(
    "async: by default a callback that resolves to loopback is refused at connect, the call itself "
    "runs",
    "[integration][async]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());  // the default deny-list
  INFO(gantryd.Log());
  auto fn = Deploy(gantryd, engine, state.path(), "echo", "[\"cat\"]");
  Listener local;
  // Names pass the check at enqueue (they are resolved only at delivery); what they
  // resolve to is checked as curl connects.
  for (std::string host : {"localhost", "2130706433"}) {
    INFO(host);
    std::string id = "cb-" + std::to_string(std::hash<std::string>{}(host) % 100000);
    Reply r = RawPost(gantryd, "/async-function/echo." + engine.value(),
                      {"X-Callback-Url: " + local.url(host), "X-Call-Id: " + id});
    if (r.status == 400) continue;  // refused at enqueue already (an address literal)
    REQUIRE(r.status == 202);
    // gantryd's own call to its gateway on loopback is not a callback: it still works.
    CHECK(WaitForLog(gantryd, "async " + id + " [^ ]+/echo: 200 after 1 attempt"));
    CHECK(WaitForLog(gantryd,
                     "async " + id + ": callback to " + Escape(local.url(host)) + " failed: "));
  }
  CHECK(WaitForLog(gantryd,
                   "callback address is in a denied network \\(127\\.0\\.0\\.0/8\\)|"
                   "callback address is in a denied network \\(::1/128\\)"));
  CHECK_FALSE(local.Pending());
  CHECK(gantryd.Call("DELETE", FunctionPath(fn)).status == 200);
}

}  // namespace
}  // namespace gantry::testing
