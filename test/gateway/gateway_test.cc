// The gateway on 127.0.0.1:<any port>, proxying to test upstreams on a unix socket in /tmp
// and on TCP loopback, with a fake InvokeBackend.
#include "gateway/gateway.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/base64.h"
#include "core/clock.h"
#include "gateway/test_upstream.h"

namespace gantry::gateway {
namespace {

namespace http = boost::beast::http;
using testing::Fetch;
using testing::TestClient;
using testing::TestUpstream;
using Json = nlohmann::json;

// Resolves names to targets set by the test, counting every release per call.
class FakeBackend : public InvokeBackend {
 public:
  ~FakeBackend() override {
    for (auto& t : threads_) t.join();
  }

  void Set(const std::string& name, Target t) {
    std::lock_guard lock(mu_);
    targets_[name] = std::move(t);
  }
  void Fail(const std::string& name, core::Error e) {
    std::lock_guard lock(mu_);
    errors_.insert_or_assign(name, std::move(e));
  }
  // Answer from another thread, as the pool does after a cold start.
  void set_async(bool async) { async_ = async; }
  // Called in every Resolve (before it answers), e.g. to move a ManualClock.
  void set_on_resolve(std::function<void()> f) { on_resolve_ = std::move(f); }
  // Keep the answers until AnswerHeld().
  void set_hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
  }
  void AnswerHeld() {
    std::vector<std::pair<ResolveCallback, Target>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [done, target] : held) done(std::move(target));
  }

  void Resolve(const std::string& ns, const std::string& name, ResolveCallback done) override {
    if (on_resolve_) on_resolve_();
    std::unique_lock lock(mu_);
    last_ns_ = ns;
    auto e = errors_.find(name);
    if (e != errors_.end()) {
      core::Error error = e->second;
      lock.unlock();
      done(error);
      return;
    }
    auto t = targets_.find(name);
    if (t == targets_.end()) {
      lock.unlock();
      done(
          core::Error::NotFound("function \"" + name + "\" not found in namespace \"" + ns + "\""));
      return;
    }
    Target target = t->second;
    int id = resolved_++;
    cv_.notify_all();
    releases_.push_back(0);
    target.release = [this, id](bool failed, const std::string& reason) {
      std::lock_guard l(mu_);
      ++releases_[static_cast<std::size_t>(id)];
      last_failed_ = failed;
      last_reason_ = reason;
      if (failed) ++failed_;
      cv_.notify_all();
    };
    if (hold_) {
      held_.emplace_back(std::move(done), std::move(target));
      return;
    }
    if (async_) {
      threads_.emplace_back([done, target]() mutable { done(std::move(target)); });
      return;
    }
    lock.unlock();
    done(std::move(target));
  }

  // Waits (a bounded while: the release may come just after the answer is written) until
  // every resolved call has been released, and returns true if each was released once.
  bool AllReleasedOnce() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (int r : releases_)
        if (r == 0) return false;
      return true;
    });
    for (int r : releases_)
      if (r != 1) return false;
    return true;
  }
  int resolved() {
    std::lock_guard lock(mu_);
    return resolved_;
  }
  // Waits (a bounded while) until `n` calls have been resolved; false if they were not.
  bool WaitForResolved(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return resolved_ >= n; });
  }
  int failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  std::string last_reason() {
    std::lock_guard lock(mu_);
    return last_reason_;
  }
  bool last_failed() {
    std::lock_guard lock(mu_);
    return last_failed_;
  }
  std::string last_ns() {
    std::lock_guard lock(mu_);
    return last_ns_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Target> targets_;
  std::map<std::string, core::Error> errors_;
  std::vector<int> releases_;
  int resolved_ = 0;
  int failed_ = 0;
  bool last_failed_ = false;
  std::string last_reason_;
  std::string last_ns_;
  std::atomic<bool> async_{false};
  bool hold_ = false;
  std::vector<std::pair<ResolveCallback, Target>> held_;
  std::vector<std::thread> threads_;
  std::function<void()> on_resolve_;
};

GatewayOptions TestOptions() {
  GatewayOptions o;
  o.listen = "127.0.0.1:0";
  o.token = "s3cret";
  o.max_invoke_body = 32 << 20;
  o.max_api_body = 1 << 20;
  o.io_threads = 2;
  o.worker_threads = 2;
  return o;
}

struct Harness {
  explicit Harness(GatewayOptions options = TestOptions(), std::vector<Route> routes = {}) {
    Target u;
    u.unix_socket = unix_up.socket_path();
    u.replica = "echo-1";
    backend.Set("echo", u);
    Target t;
    t.port = tcp_up.port();
    t.replica = "tcp-1";
    backend.Set("tcp", t);
    Target cold = u;
    cold.cold_start = true;
    backend.Set("cold", cold);
    Target quick = u;
    quick.timeout = std::chrono::milliseconds(200);
    backend.Set("quick", quick);
    gateway = std::make_unique<Gateway>(std::move(options), backend, std::move(routes));
    auto started = gateway->Start();
    REQUIRE(started.ok());
    port = gateway->port();
    REQUIRE(port > 0);
  }

  FakeBackend backend;
  TestUpstream unix_up{true};
  TestUpstream tcp_up{false};
  std::unique_ptr<Gateway> gateway;
  int port = 0;
};

Json BodyJson(const TestClient::Response& r) {
  CHECK(r[http::field::content_type] == "application/json");
  return Json::parse(r.body());
}

TEST_CASE("gateway: each connection stays on the io loop that accepted it, loops share the work",
          "[gateway][invoke]") {
  GatewayOptions o = TestOptions();
  o.io_threads = 3;
  Harness h(o);
  std::mutex mu;
  std::thread::id resolved_on;
  h.backend.set_on_resolve([&] {
    std::lock_guard lock(mu);
    resolved_on = std::this_thread::get_id();
  });
  std::set<std::thread::id> loops;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<TestClient>(h.port));
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      TestClient::Request req{http::verb::post, "/function/echo", 11};
      req.body() = "call " + std::to_string(round);
      auto r = clients[i]->Send(std::move(req));
      CHECK(r.result_int() == 200);
      CHECK(r.body() == "call " + std::to_string(round));
      std::lock_guard lock(mu);
      loops.insert(resolved_on);
    }
  }
  // Round robin: six connections over three loops, each loop its own thread.
  CHECK(loops.size() == 3);
  CHECK(loops.count(std::this_thread::get_id()) == 0);
  // A connection's calls all ran on one loop: per client, the same thread every round.
  for (std::size_t i = 0; i < clients.size(); ++i) {
    std::set<std::thread::id> seen;
    for (int round = 0; round < 3; ++round) {
      TestClient::Request req{http::verb::get, "/function/echo", 11};
      REQUIRE(clients[i]->Send(std::move(req)).result_int() == 200);
      std::lock_guard lock(mu);
      seen.insert(resolved_on);
    }
    CHECK(seen.size() == 1);
  }
}

TEST_CASE("gateway: invoke proxies method, path, query, headers and body both ways",
          "[gateway][invoke]") {
  Harness h;
  for (std::string fn : {"echo", "tcp"}) {
    INFO(fn);
    auto r = Fetch(h.port, http::verb::put, "/function/" + fn + "/a/b?x=1&y=%20", "hello body",
                   {{"X-Custom", "custom value"},
                    {"Content-Type", "text/plain"},
                    {"Connection", "keep-alive, X-Hop"},
                    {"X-Hop", "hop value"},
                    {"Authorization", "Bearer fn-token"}});
    CHECK(r.result_int() == 200);
    CHECK(r.body() == "hello body");
    CHECK(r["X-Seen-Method"] == "PUT");
    CHECK(r["X-Seen-Target"] == "/a/b?x=1&y=%20");
    CHECK(r["X-Seen-Custom"] == "custom value");
    CHECK(r["X-Seen-Hop"] == "");                           // named in Connection: hop-by-hop
    CHECK(r["X-Seen-Authorization"] == "Bearer fn-token");  // the function's own business
    CHECK(r["X-Seen-Forwarded-For"] == "127.0.0.1");
    CHECK(r["Content-Type"] == "text/plain");
    CHECK(r["X-From-Upstream"] == "yes");
    CHECK(r["X-Upstream-Hop"] == "");  // named in the replica's Connection header
    CHECK(r["X-Seen-Call-Id"] == r["X-Call-Id"]);
    CHECK(r["X-Seen-Start-Time"] == r["X-Start-Time"]);
  }
  auto root = Fetch(h.port, http::verb::get, "/function/echo");
  CHECK(root["X-Seen-Target"] == "/");
  CHECK(root["X-Seen-Method"] == "GET");
  auto del = Fetch(h.port, http::verb::delete_, "/function/echo.default/");
  CHECK(del["X-Seen-Method"] == "DELETE");
  CHECK(h.backend.last_ns() == "default");
  Fetch(h.port, http::verb::get, "/function/echo.team-a/x");
  CHECK(h.backend.last_ns() == "team-a");
  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.failed() == 0);
}

TEST_CASE("gateway: invoke answers carry the call headers", "[gateway][invoke]") {
  core::ManualClock clock;
  GatewayOptions o = TestOptions();
  o.clock = &clock;
  o.wall_clock = [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  };
  Harness h(o);
  // Each call takes 250 ms, in the backend's hands.
  h.backend.set_on_resolve([&] { clock.Advance(std::chrono::milliseconds(250)); });
  auto given = Fetch(h.port, http::verb::post, "/function/echo", "x", {{"X-Call-Id", "my-call-7"}});
  CHECK(given["X-Call-Id"] == "my-call-7");
  CHECK(given["X-Seen-Call-Id"] == "my-call-7");
  CHECK(given["X-Cold-Start"] == "false");

  auto a = Fetch(h.port, http::verb::post, "/function/cold", "x");
  // The gateway counts a call just after its answer is out: the next call's resolve must
  // not advance the clock before that (the sum below would then be 0.75).
  REQUIRE(h.backend.AllReleasedOnce());
  auto b = Fetch(h.port, http::verb::post, "/function/cold", "x");
  CHECK(a["X-Cold-Start"] == "true");
  CHECK(a["X-Call-Id"].size() == 36);
  CHECK(a["X-Call-Id"] != b["X-Call-Id"]);
  // Unix time in nanoseconds, and the time from the request to the replica's head.
  CHECK(a["X-Start-Time"] == "1700000000000000000");
  CHECK(a["X-Duration-Seconds"] == "0.250000");
  CHECK(h.backend.AllReleasedOnce());
  CHECK_THAT(h.gateway->metrics().Render(),
             Catch::Contains(R"(gantry_invocation_duration_seconds_sum{function="cold",)"
                             R"(namespace="default"} 0.5)"
                             "\n"));
}

TEST_CASE("gateway: large bodies stream through in both directions", "[gateway][invoke]") {
  Harness h;
  const std::size_t n = 20u << 20;
  auto direct = Fetch(h.tcp_up.port(), http::verb::get, "/big?n=100000");
  INFO(direct.base());
  REQUIRE(direct.body().size() == 100000);
  auto big = Fetch(h.port, http::verb::get, "/function/echo/big?n=" + std::to_string(n));
  INFO(big.base());
  REQUIRE(big.result_int() == 200);
  REQUIRE(big.body().size() == n);
  bool pattern_ok = true;
  for (std::size_t i = 0; i < n; ++i) {
    if (big.body()[i] != static_cast<char>('a' + i % 26)) {
      pattern_ok = false;
      break;
    }
  }
  CHECK(pattern_ok);
  CHECK(big["X-From-Upstream"] == "big");

  std::string upload(12u << 20, '\0');
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < upload.size(); ++i) {
    upload[i] = static_cast<char>(i * 7 % 251);
    sum += static_cast<unsigned char>(upload[i]);
  }
  auto counted = Fetch(h.port, http::verb::post, "/function/tcp/count", upload);
  CHECK(counted.body() == std::to_string(upload.size()) + " " + std::to_string(sum) + " 0");

  // A chunked upload stays chunked to the replica.
  TestClient client(h.port);
  TestClient::Request req{http::verb::post, "/function/echo/count", 11};
  req.chunked(true);
  req.body() = upload;
  auto chunked = client.Send(std::move(req));
  CHECK(chunked.body() == std::to_string(upload.size()) + " " + std::to_string(sum) + " 1");
  CHECK(h.backend.AllReleasedOnce());
}

TEST_CASE("gateway: a caller that expects 100 Continue gets it before sending the body",
          "[gateway][invoke]") {
  Harness h;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(h.port)});
  http::request<http::string_body> req{http::verb::post, "/function/echo/x", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::expect, "100-continue");
  req.body() = "sent after 100";
  req.prepare_payload();
  http::request_serializer<http::string_body> sr{req};
  http::write_header(socket, sr);
  boost::beast::flat_buffer buffer;
  http::response<http::empty_body> interim;
  http::read(socket, buffer, interim);
  CHECK(interim.result() == http::status::continue_);
  http::write(socket, sr);
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "sent after 100");
  CHECK(h.backend.AllReleasedOnce());
}

TEST_CASE("gateway: HEAD answers keep their length and the connection", "[gateway][invoke]") {
  Harness h;
  TestClient client(h.port);
  TestClient::Request head{http::verb::head, "/function/echo/head", 11};
  auto r = client.Send(std::move(head));
  CHECK(r.result_int() == 200);
  CHECK(r[http::field::content_length] == "42");
  CHECK(r["X-Seen-Method"] == "HEAD");
  REQUIRE(client.open());
  TestClient::Request next{http::verb::post, "/function/echo", 11};
  next.body() = "after head";
  CHECK(client.Send(std::move(next)).body() == "after head");
  CHECK(h.backend.AllReleasedOnce());
}

TEST_CASE("gateway: a malformed request gets 400 JSON and the connection closes", "[gateway]") {
  Harness h;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(h.port)});
  boost::asio::write(
      socket, boost::asio::buffer(std::string("GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  CHECK(res.result_int() == 400);
  CHECK_THAT(BodyJson(res)["error"].get<std::string>(), Catch::StartsWith("bad request: "));
  CHECK_FALSE(res.keep_alive());
}

TEST_CASE("gateway: a client connection is kept alive and replica connections are reused",
          "[gateway][invoke]") {
  Harness h;
  TestClient client(h.port);
  for (int i = 0; i < 5; ++i) {
    TestClient::Request req{http::verb::post, "/function/echo/n", 11};
    req.body() = "call " + std::to_string(i);
    auto r = client.Send(std::move(req));
    CHECK(r.body() == "call " + std::to_string(i));
    CHECK(r.keep_alive());
    REQUIRE(client.open());
  }
  // Sequential calls: one upstream connection, taken from the idle pool every time.
  CHECK(h.unix_up.requests() == 5);
  CHECK(h.unix_up.connections() == 1);

  // A replica that closes after answering is not reused; the next call connects again.
  TestClient::Request close_req{http::verb::get, "/function/echo/status?code=201&close=1", 11};
  auto closed = client.Send(std::move(close_req));
  CHECK(closed.result_int() == 201);
  CHECK(closed.body() == "status 201");
  TestClient::Request again{http::verb::get, "/function/echo/again", 11};
  CHECK(client.Send(std::move(again)).result_int() == 200);
  CHECK(h.unix_up.connections() == 2);
  CHECK(h.backend.AllReleasedOnce());
}

TEST_CASE("gateway: a call over the function's timeout gets 504", "[gateway][invoke]") {
  Harness h;
  auto r = Fetch(h.port, http::verb::get, "/function/quick/sleep?ms=1500");
  CHECK(r.result_int() == 504);
  auto body = BodyJson(r);
  CHECK_THAT(body["error"].get<std::string>(), Catch::Contains("timeout of 200 ms"));
  CHECK(body["function"] == "quick");
  CHECK_FALSE(r["X-Call-Id"].empty());
  CHECK(h.backend.AllReleasedOnce());
  CHECK_FALSE(h.backend.last_failed());  // slow is not broken
  CHECK(h.gateway->metrics().Invocations("default", "quick", 504) == 1);
}

TEST_CASE(
    "gateway: a replica that refuses the connection is failed, one that drops the call is not",
    "[gateway][invoke]") {
  Harness h;
  Target gone;
  gone.unix_socket = "/tmp/gantry-gw-test-no-such.sock";
  gone.replica = "gone-1";
  h.backend.Set("gone", gone);
  auto r = Fetch(h.port, http::verb::post, "/function/gone", "payload");
  CHECK(r.result_int() == 502);
  auto body = BodyJson(r);
  CHECK(body["function"] == "gone");
  CHECK_THAT(body["error"].get<std::string>(), Catch::Contains("gone-1"));
  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.last_failed());
  CHECK_THAT(h.backend.last_reason(), Catch::Contains("connect"));

  // A TCP port nobody listens on.
  int closed_port = 0;
  {
    TestUpstream briefly(false);
    closed_port = briefly.port();
  }
  Target refused;
  refused.port = closed_port;
  h.backend.Set("refused", refused);
  CHECK(Fetch(h.port, http::verb::get, "/function/refused").result_int() == 502);

  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.failed() == 2);

  // Connected, but closed without an answer: a 502 for the caller, but the replica is not
  // failed (what the caller sent may be why: a caller must not be able to kill replicas).
  auto dropped = Fetch(h.port, http::verb::get, "/function/echo/close");
  CHECK(dropped.result_int() == 502);
  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.failed() == 2);
  CHECK_FALSE(h.backend.last_failed());
  CHECK_THAT(h.backend.last_reason(), Catch::Contains("before answering"));
  CHECK(h.gateway->metrics().Invocations("default", "echo", 502) == 1);
}

TEST_CASE("gateway: a replica socket swapped for a symlink is never followed",
          "[gateway][invoke]") {
  // The function owns its socket directory: it can replace shim.sock with a link to any
  // socket on the host (here a live server standing in for /var/run/docker.sock).
  Harness h;
  std::string link = h.unix_up.socket_path() + ".swapped";
  REQUIRE(::symlink(h.unix_up.socket_path().c_str(), link.c_str()) == 0);
  Target swapped;
  swapped.unix_socket = link;
  swapped.replica = "swapped-1";
  h.backend.Set("swapped", swapped);
  int before = h.unix_up.requests();
  auto r = Fetch(h.port, http::verb::get, "/function/swapped/echo");
  ::unlink(link.c_str());
  CHECK(r.result_int() == 502);
  CHECK(h.unix_up.requests() == before);  // nothing reached what the link points at
  CHECK(h.backend.last_failed());         // and the replica is taken out
  // The real socket, by its own path, still works.
  CHECK(Fetch(h.port, http::verb::get, "/function/echo/echo").result_int() == 200);
}

TEST_CASE("gateway: resolve errors become 404, 429, 503 and 502 with JSON bodies",
          "[gateway][invoke]") {
  Harness h;
  h.backend.Fail("busy", core::Error::Unavailable("queue of \"busy\" is full (10 waiting)"));
  h.backend.Fail("slow", core::Error::Timeout("no replica of \"slow\" became ready in 30s"));
  h.backend.Fail("broken", core::Error::Internal("engine said no"));
  struct Case {
    std::string fn;
    unsigned status;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{{"nope", 404, "function \"nope\" not found"},
                                         {"busy", 429, "queue of \"busy\" is full"},
                                         {"slow", 503, "became ready in 30s"},
                                         {"broken", 502, "engine said no"}}) {
    INFO(c.fn);
    auto r = Fetch(h.port, http::verb::get, "/function/" + c.fn + "/x");
    CHECK(r.result_int() == c.status);
    auto body = BodyJson(r);
    CHECK_THAT(body["error"].get<std::string>(), Catch::Contains(c.message));
    CHECK(body["function"] == c.fn);
  }
  // No name: not found, as OpenFaaS's gateway answers it (faas-cli and the certifier).
  for (const char* target : {"/function/", "/function/.default", "/function/.team-a/x"}) {
    auto bad = Fetch(h.port, http::verb::get, target);
    INFO(target);
    CHECK(bad.result_int() == 404);
    CHECK_THAT(BodyJson(bad)["error"].get<std::string>(), Catch::Contains("no function name"));
  }
  CHECK(h.backend.resolved() == 0);
  CHECK(h.gateway->metrics().Invocations("default", "busy", 429) == 1);
  CHECK(h.gateway->metrics().Invocations("default", "nope", 404) == 0);  // not counted
}

TEST_CASE("gateway: resolve may answer from another thread", "[gateway][invoke]") {
  Harness h;
  h.backend.set_async(true);
  std::vector<std::future<TestClient::Response>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return Fetch(h.port, http::verb::post, "/function/echo", "n" + std::to_string(i));
    }));
  }
  for (int i = 0; i < 8; ++i)
    CHECK(calls[static_cast<std::size_t>(i)].get().body() == "n" + std::to_string(i));
  CHECK(h.backend.resolved() == 8);
  CHECK(h.backend.AllReleasedOnce());
}

TEST_CASE("gateway: Stop releases calls in flight and targets resolved after it",
          "[gateway][invoke]") {
  Harness h;
  auto in_flight = std::async(
      std::launch::async, [&] { return Fetch(h.port, http::verb::get, "/function/echo/hold"); });
  REQUIRE(h.unix_up.WaitForRequests(1));
  h.backend.set_hold(true);
  auto waiting = std::async(std::launch::async,
                            [&] { return Fetch(h.port, http::verb::get, "/function/echo"); });
  REQUIRE(h.backend.WaitForResolved(2));
  h.gateway->Stop();
  h.backend.AnswerHeld();  // too late: the gateway releases the target itself
  CHECK(h.backend.AllReleasedOnce());
  CHECK_FALSE(h.backend.last_failed());
  CHECK(h.backend.last_reason() == "gateway stopped");
  CHECK_THROWS(in_flight.get());  // cut off: the connection closed without an answer
  CHECK_THROWS(waiting.get());
}

TEST_CASE("gateway: invoke bodies over the limit get 413", "[gateway][invoke]") {
  GatewayOptions o = TestOptions();
  o.max_invoke_body = 1000;
  Harness h(o);
  auto r = Fetch(h.port, http::verb::post, "/function/echo", std::string(1001, 'x'));
  CHECK(r.result_int() == 413);
  CHECK_THAT(BodyJson(r)["error"].get<std::string>(), Catch::Contains("limit of 1000 bytes"));
  CHECK(h.backend.resolved() == 0);  // refused before any replica is asked for
  CHECK(Fetch(h.port, http::verb::post, "/function/echo", std::string(1000, 'x')).result_int() ==
        200);

  // Chunked: the limit is only seen while streaming.
  TestClient client(h.port);
  TestClient::Request req{http::verb::post, "/function/echo", 11};
  req.chunked(true);
  req.body() = std::string(5000, 'y');
  auto chunked = client.Send(std::move(req));
  CHECK(chunked.result_int() == 413);
  CHECK(h.backend.AllReleasedOnce());
}

Route Handler(std::string method, std::string pattern, ApiHandler h, bool auth = true) {
  return Route{std::move(method), std::move(pattern), std::move(h), auth};
}

std::vector<Route> TestRoutes() {
  return {
      Handler("GET", "/system/functions",
              [](const ApiRequest& r) -> core::Result<ApiResponse> {
                Json j = {{"query", r.query},
                          {"accept", r.headers.count("accept") ? r.headers.at("accept") : ""}};
                return ApiResponse{200, "application/json", j.dump(), {{"X-Handler", "list"}}};
              }),
      Handler("PUT", "/apis/gantry/v1/namespaces/{ns}/functions/{name}",
              [](const ApiRequest& r) -> core::Result<ApiResponse> {
                if (r.params.at("name") == "taken")
                  return core::Error::Conflict("\"taken\" is being deleted");
                if (r.params.at("name") == "bad")
                  return core::Error::InvalidArgument("spec.timeout: not a duration");
                if (r.params.at("name") == "throws") throw std::runtime_error("boom");
                Json j = {{"ns", r.params.at("ns")},
                          {"name", r.params.at("name")},
                          {"size", r.body.size()},
                          {"method", r.method},
                          {"path", r.path}};
                return ApiResponse{202, "application/json", j.dump(), {}};
              }),
      Handler(
          "GET", "/system/info",
          [](const ApiRequest&) -> core::Result<ApiResponse> {
            return ApiResponse{200, "application/json", R"({"provider":"gantry"})", {}};
          },
          false),
  };
}

TEST_CASE("gateway: management routes need the bearer token, or basic auth as admin with it",
          "[gateway][api]") {
  Harness h(TestOptions(), TestRoutes());
  auto none = Fetch(h.port, http::verb::get, "/system/functions");
  CHECK(none.result_int() == 401);
  CHECK_THAT(BodyJson(none)["error"].get<std::string>(), Catch::Contains("bearer token"));
  CHECK_THAT(std::string(none["WWW-Authenticate"]), Catch::Contains("Basic realm="));
  // faas-cli login: basic auth, user admin, the token as the password.
  auto basic = [&](const std::string& credentials) {
    return Fetch(h.port, http::verb::get, "/system/functions", "",
                 {{"Authorization", "Basic " + core::Base64Encode(credentials)}})
        .result_int();
  };
  CHECK(basic("admin:s3cret") == 200);
  CHECK(basic("admin:s3cret!") == 401);
  CHECK(basic("admin:s3cre") == 401);
  CHECK(basic("root:s3cret") == 401);
  CHECK(basic("s3cret") == 401);
  CHECK(basic("admin:") == 401);
  CHECK(Fetch(h.port, http::verb::get, "/system/functions", "",
              {{"Authorization", "Basic YWRtaW46czNjcmV0"}})  // admin:s3cret, by hand
            .result_int() == 200);
  CHECK(Fetch(h.port, http::verb::get, "/system/functions", "",
              {{"Authorization", "Basic YWRtaW46czNjcmV0="}})  // not base64
            .result_int() == 401);
  CHECK(
      Fetch(h.port, http::verb::get, "/system/functions", "", {{"Authorization", "Bearer wrong!"}})
          .result_int() == 401);
  CHECK(Fetch(h.port, http::verb::get, "/system/functions", "", {{"Authorization", "Bearer "}})
            .result_int() == 401);
  CHECK(
      Fetch(h.port, http::verb::get, "/system/functions", "", {{"Authorization", "Basic czNjcmV0"}})
          .result_int() == 401);
  auto ok = Fetch(h.port, http::verb::get, "/system/functions?namespace=team%2Da&x", "",
                  {{"Authorization", "Bearer s3cret"}, {"Accept", "application/json"}});
  CHECK(ok.result_int() == 200);
  CHECK(ok["X-Handler"] == "list");
  auto j = BodyJson(ok);
  CHECK(j["query"]["namespace"] == "team-a");
  CHECK(j["query"]["x"] == "");
  CHECK(j["accept"] == "application/json");
  // Open routes, invoke and the built-ins need no token.
  CHECK(Fetch(h.port, http::verb::get, "/system/info").result_int() == 200);
  CHECK(Fetch(h.port, http::verb::get, "/function/echo").result_int() == 200);
  auto health = Fetch(h.port, http::verb::get, "/healthz");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == "OK");

  GatewayOptions open = TestOptions();
  open.token.clear();
  open.auth_disabled = true;
  Harness o(open, TestRoutes());
  CHECK(Fetch(o.port, http::verb::get, "/system/functions", "", {{"Authorization", "Bearer "}})
            .result_int() == 200);
  CHECK(Fetch(o.port, http::verb::get, "/system/functions").result_int() == 200);
}

TEST_CASE("gateway: management routing: params, 404, 405, 413 and error codes", "[gateway][api]") {
  GatewayOptions options = TestOptions();
  options.max_api_body = 100;
  Harness h(options, TestRoutes());
  std::map<std::string, std::string> auth = {{"Authorization", "Bearer s3cret"}};
  auto put = Fetch(h.port, http::verb::put, "/apis/gantry/v1/namespaces/team/functions/echo",
                   std::string(100, 'z'), auth);
  CHECK(put.result_int() == 202);
  auto j = BodyJson(put);
  CHECK(j["ns"] == "team");
  CHECK(j["name"] == "echo");
  CHECK(j["size"] == 100);
  CHECK(j["method"] == "PUT");
  CHECK(j["path"] == "/apis/gantry/v1/namespaces/team/functions/echo");

  auto big = Fetch(h.port, http::verb::put, "/apis/gantry/v1/namespaces/team/functions/echo",
                   std::string(101, 'z'), auth);
  CHECK(big.result_int() == 413);
  CHECK_THAT(BodyJson(big)["error"].get<std::string>(), Catch::Contains("limit of 100 bytes"));

  auto unknown = Fetch(h.port, http::verb::get, "/system/nothing", "", auth);
  CHECK(unknown.result_int() == 404);
  CHECK(BodyJson(unknown)["error"] == "no route for GET /system/nothing");

  auto wrong = Fetch(h.port, http::verb::delete_, "/system/functions", "", auth);
  CHECK(wrong.result_int() == 405);
  CHECK(wrong[http::field::allow] == "GET");
  CHECK_THAT(BodyJson(wrong)["error"].get<std::string>(), Catch::Contains("DELETE is not allowed"));

  struct Case {
    std::string name;
    unsigned status;
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {"taken", 409, "\"taken\" is being deleted"},
           {"bad", 400, "spec.timeout: not a duration"},
           {"throws", 500, "PUT /apis/gantry/v1/namespaces/t/functions/throws: boom"}}) {
    INFO(c.name);
    auto r = Fetch(h.port, http::verb::put, "/apis/gantry/v1/namespaces/t/functions/" + c.name,
                   "{}", auth);
    CHECK(r.result_int() == c.status);
    CHECK(BodyJson(r) == Json{{"error", c.error}});
  }
}

TEST_CASE("gateway: a blocking handler runs on a worker, not on the io thread", "[gateway][api]") {
  std::promise<void> entered;
  std::promise<void> go;
  std::shared_future<void> go_future = go.get_future().share();
  std::vector<Route> routes = {Handler(
      "POST", "/block",
      [&, go_future](const ApiRequest&) -> core::Result<ApiResponse> {
        entered.set_value();
        go_future.wait();
        return ApiResponse{200, "text/plain", "done", {}};
      },
      false)};
  GatewayOptions o = TestOptions();
  o.io_threads = 1;
  Harness h(o, std::move(routes));
  auto blocked =
      std::async(std::launch::async, [&] { return Fetch(h.port, http::verb::post, "/block"); });
  entered.get_future().wait();
  // The single io thread still serves invoke and /healthz meanwhile.
  CHECK(Fetch(h.port, http::verb::get, "/function/echo").result_int() == 200);
  CHECK(Fetch(h.port, http::verb::get, "/healthz").result_int() == 200);
  go.set_value();
  CHECK(blocked.get().body() == "done");
}

TEST_CASE("gateway: metrics count calls by code, cold starts and collectors",
          "[gateway][metrics]") {
  Harness h;
  auto builds = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("gantry_builds_total")
      .Help("Builds.")
      .Register(*builds)
      .Add({{"result", "ok"}})
      .Increment();
  h.gateway->metrics().Register(builds);
  for (int i = 0; i < 3; ++i) Fetch(h.port, http::verb::get, "/function/echo");
  Fetch(h.port, http::verb::get, "/function/cold");
  Fetch(h.port, http::verb::get, "/function/echo/status?code=500");
  CHECK(h.backend.AllReleasedOnce());
  auto r = Fetch(h.port, http::verb::get, "/metrics");
  CHECK(r.result_int() == 200);
  CHECK_THAT(std::string(r[http::field::content_type]),
             Catch::StartsWith("text/plain; version=0.0.4"));
  const std::string& text = r.body();
  CHECK_THAT(text,
             Catch::Contains(
                 R"(gantry_invocations_total{code="200",function="echo",namespace="default"} 3)"));
  CHECK_THAT(text,
             Catch::Contains(
                 R"(gantry_invocations_total{code="500",function="echo",namespace="default"} 1)"));
  CHECK_THAT(
      text,
      Catch::Contains(
          R"(gantry_invocation_duration_seconds_count{function="echo",namespace="default"} 4)"));
  CHECK_THAT(text,
             Catch::Contains(R"(gantry_cold_starts_total{function="cold",namespace="default"} 1)"));
  CHECK_THAT(text,
             Catch::Contains(R"(gantry_cold_starts_total{function="echo",namespace="default"} 0)"));
  CHECK_THAT(text, Catch::Contains("gantry_builds_total{result=\"ok\"} 1\n"));
}

TEST_CASE("gateway: start reports bad and busy listen addresses", "[gateway]") {
  FakeBackend backend;
  GatewayOptions o = TestOptions();
  Gateway first(o, backend, {});
  REQUIRE(first.Start().ok());

  o.listen = "127.0.0.1:" + std::to_string(first.port());
  Gateway second(o, backend, {});
  auto busy = second.Start();
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().code() == core::ErrorCode::kUnavailable);
  CHECK_THAT(busy.error().message(), Catch::Contains(o.listen) && Catch::Contains("bind"));

  for (std::string bad : {"8080", "127.0.0.1:http", "127.0.0.1:70000", "localhost:1"}) {
    INFO(bad);
    o.listen = bad;
    Gateway g(o, backend, {});
    auto s = g.Start();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == core::ErrorCode::kInvalidArgument);
  }
  o.listen = ":0";
  o.token.clear();
  Gateway no_token(o, backend, {});
  auto s = no_token.Start();
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message(), Catch::Contains("token"));

  first.Stop();
  first.Stop();  // idempotent
  CHECK(first.port() == 0);
}

namespace hardening {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// A raw connection to the gateway whose reads give up after 10 s (a bound, not an
// assertion: the gateway must have answered or closed long before).
struct RawClient {
  explicit RawClient(int port) : socket(io) {
    socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  void Send(const std::string& bytes) { net::write(socket, net::buffer(bytes)); }
  // The next response, or the error that ended the read: end_of_stream or a reset when the
  // gateway closed without an answer, timed_out when it did neither within the bound.
  boost::system::error_code Read(TestClient::Response& res) {
    boost::system::error_code result = net::error::timed_out;
    bool done = false;
    http::async_read(socket, buffer, res, [&](boost::system::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    io.restart();
    io.run_for(std::chrono::seconds(10));
    if (!done) {
      socket.cancel();
      io.restart();
      io.run();
      result = net::error::timed_out;
    }
    return result;
  }
  net::io_context io;
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
};

TEST_CASE("gateway: a trailer field over 64 KiB gets 431 and gantryd keeps serving",
          "[gateway][limits]") {
  Harness h;
  RawClient c(h.port);
  c.Send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: " +
      std::string(70'000, 't') + "\r\n\r\n");
  TestClient::Response res;
  REQUIRE_FALSE(c.Read(res));
  CHECK(res.result_int() == 431);
  BodyJson(res);
  CHECK(Fetch(h.port, http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("gateway: a replica's oversize trailer ends its answer and not gantryd",
          "[gateway][limits]") {
  Harness h;
  RawClient c(h.port);
  c.Send("GET /function/echo/trailer?n=70000 HTTP/1.1\r\nHost: x\r\n\r\n");
  TestClient::Response res;
  CHECK(c.Read(res));  // the head went out; the body is cut short by a close
  CHECK(Fetch(h.port, http::verb::get, "/function/echo/trailer?n=100").body() == "abc");
  CHECK(Fetch(h.port, http::verb::get, "/healthz").result_int() == 200);
  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.failed() == 0);
}

TEST_CASE("gateway: broken chunk framing on invoke is 400 JSON and the replica is not failed",
          "[gateway][limits]") {
  Harness h;
  RawClient c(h.port);
  c.Send(
      "POST /function/echo/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabcXY0\r\n\r\n");
  TestClient::Response res;
  REQUIRE_FALSE(c.Read(res));
  CHECK(res.result_int() == 400);
  CHECK_THAT(BodyJson(res)["error"].get<std::string>(), Catch::StartsWith("bad request: "));
  CHECK_FALSE(res.keep_alive());
  CHECK(h.backend.AllReleasedOnce());
  CHECK(h.backend.failed() == 0);
}

TEST_CASE("gateway: connections over the cap get 503 JSON and a close", "[gateway][limits]") {
  GatewayOptions o = TestOptions();
  o.max_connections = 2;
  Harness h(o);
  auto first = std::make_unique<TestClient>(h.port);
  TestClient second(h.port);
  // Both are sessions once they have been answered.
  for (TestClient* client : {first.get(), &second}) {
    TestClient::Request req{http::verb::get, "/healthz", 11};
    CHECK(client->Send(req).result_int() == 200);
  }
  RawClient third(h.port);
  TestClient::Response res;
  REQUIRE_FALSE(third.Read(res));
  CHECK(res.result_int() == 503);
  CHECK_THAT(BodyJson(res)["error"].get<std::string>(), Catch::Contains("too many connections"));
  CHECK_FALSE(res.keep_alive());
  CHECK(third.Read(res) == http::error::end_of_stream);

  // A closed connection frees its place (once its session has seen the close).
  first.reset();
  int status = 0;
  for (int attempt = 0; attempt < 1000 && status != 200; ++attempt) {
    try {
      status = static_cast<int>(Fetch(h.port, http::verb::get, "/healthz").result_int());
    } catch (const std::exception&) {
      status = 0;  // refused, closed before our request was read
    }
    if (status != 200) std::this_thread::yield();
  }
  CHECK(status == 200);
}

TEST_CASE("gateway: a request head that trickles in is cut off after the header timeout",
          "[gateway][limits]") {
  GatewayOptions o = TestOptions();
  o.idle_timeout = std::chrono::seconds(60);
  o.header_timeout = std::chrono::milliseconds(200);
  Harness h(o);
  RawClient c(h.port);
  c.Send("GET /healthz HTTP/1.1\r\nHo");
  TestClient::Response res;
  auto ec = c.Read(res);
  // Closed by the gateway (eof or reset), not our read giving up after 10 s.
  CHECK(ec);
  CHECK(ec != net::error::timed_out);
  CHECK(Fetch(h.port, http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE(
    "gateway: /healthz and /metrics answer while every worker is blocked, a full queue is 503",
    "[gateway][api]") {
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  std::promise<void> go;
  std::shared_future<void> go_future = go.get_future().share();
  std::vector<Route> routes = {Handler(
      "POST", "/block",
      [&, go_future](const ApiRequest&) -> core::Result<ApiResponse> {
        {
          std::lock_guard lock(mu);
          ++entered;
        }
        cv.notify_all();
        go_future.wait();
        return ApiResponse{200, "text/plain", "done", {}};
      },
      false)};
  GatewayOptions o = TestOptions();
  o.worker_threads = 2;
  o.max_api_queue = 0;
  Harness h(o, std::move(routes));
  std::vector<std::future<TestClient::Response>> blocked;
  for (int i = 0; i < 2; ++i) {
    blocked.push_back(
        std::async(std::launch::async, [&] { return Fetch(h.port, http::verb::post, "/block"); }));
  }
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered == 2; }));
  }
  // Bounded waits: before the fix, these queue behind the blocked handlers.
  auto health =
      std::async(std::launch::async, [&] { return Fetch(h.port, http::verb::get, "/healthz"); });
  auto metrics =
      std::async(std::launch::async, [&] { return Fetch(h.port, http::verb::get, "/metrics"); });
  auto extra =
      std::async(std::launch::async, [&] { return Fetch(h.port, http::verb::post, "/block"); });
  bool answered = health.wait_for(std::chrono::seconds(10)) == std::future_status::ready &&
                  metrics.wait_for(std::chrono::seconds(10)) == std::future_status::ready &&
                  extra.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  go.set_value();
  REQUIRE(answered);
  CHECK(health.get().result_int() == 200);
  CHECK(metrics.get().result_int() == 200);
  auto busy = extra.get();
  CHECK(busy.result_int() == 503);
  CHECK_THAT(BodyJson(busy)["error"].get<std::string>(), Catch::Contains("retry"));
  for (auto& b : blocked) CHECK(b.get().body() == "done");
}

}  // namespace hardening

namespace streams {

// A BodyStream the test feeds: Push() hands a chunk to the gateway's pending Next(), or
// keeps it until the next Next().
class TestStream : public BodyStream {
 public:
  void Next(ChunkFn deliver) override {
    std::unique_lock lock(mu_);
    if (!queue_.empty()) {
      auto [chunk, done] = std::move(queue_.front());
      queue_.erase(queue_.begin());
      lock.unlock();
      deliver(std::move(chunk), done);
      return;
    }
    pending_ = std::move(deliver);
  }
  void Cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void Push(std::string chunk, bool done = false) {
    std::unique_lock lock(mu_);
    if (pending_) {
      ChunkFn deliver = std::move(pending_);
      pending_ = nullptr;
      lock.unlock();
      deliver(std::move(chunk), done);
      return;
    }
    queue_.emplace_back(std::move(chunk), done);
  }
  bool WaitCancelled() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return cancelled_; });
  }
  bool cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  ChunkFn pending_;
  std::vector<std::pair<std::string, bool>> queue_;
  bool cancelled_ = false;
};

// A raw client connection: what the gateway writes, read as it comes.
class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    socket_.connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  void Write(const std::string& data) { boost::asio::write(socket_, boost::asio::buffer(data)); }
  // Reads until what was read contains `want` or the connection ends; returns all read.
  std::string ReadUntil(const std::string& want) {
    char buf[4096];
    while (got_.find(want) == std::string::npos) {
      boost::system::error_code ec;
      std::size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      got_.append(buf, n);
    }
    return got_;
  }
  void Close() { socket_.close(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string got_;
};

std::vector<Route> StreamRoutes(std::shared_ptr<TestStream> stream) {
  return {Handler("GET", "/stream",
                  [stream](const ApiRequest&) -> core::Result<ApiResponse> {
                    ApiResponse r{200, "application/x-ndjson", "first\n", {}};
                    r.stream = stream;
                    return r;
                  }),
          Handler("GET", "/quick", [](const ApiRequest&) -> core::Result<ApiResponse> {
            return ApiResponse{200, "text/plain", "ok", {}};
          })};
}

const std::string kStreamRequest =
    "GET /stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n";

TEST_CASE(
    "gateway: a streamed answer sends each chunk as it comes, then ends and keeps the "
    "connection",
    "[gateway][api][stream]") {
  auto stream = std::make_shared<TestStream>();
  Harness h(TestOptions(), StreamRoutes(stream));
  RawClient client(h.port);
  client.Write(kStreamRequest);
  std::string got = client.ReadUntil("first\n");
  CHECK_THAT(got, Catch::Contains("Transfer-Encoding: chunked"));
  CHECK_THAT(got, Catch::Contains("application/x-ndjson"));
  // The second chunk goes out while the stream is still open: the client sees it before
  // anything says the body ended.
  stream->Push("second\n");
  got = client.ReadUntil("second\n");
  CHECK_THAT(got, Catch::Contains("second\n"));
  CHECK_THAT(got, !Catch::Contains("\r\n0\r\n\r\n"));
  stream->Push("", true);
  got = client.ReadUntil("\r\n0\r\n\r\n");
  CHECK_THAT(got, Catch::EndsWith("\r\n0\r\n\r\n"));
  CHECK_FALSE(stream->cancelled());
  // The same connection carries the next request.
  client.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_THAT(client.ReadUntil("200 OK"), Catch::Contains("HTTP/1.1 200 OK"));
}

TEST_CASE("gateway: a streamed answer is cancelled when its client goes away",
          "[gateway][api][stream]") {
  auto stream = std::make_shared<TestStream>();
  Harness h(TestOptions(), StreamRoutes(stream));
  RawClient client(h.port);
  client.Write(kStreamRequest);
  client.ReadUntil("first\n");
  client.Close();
  // Nothing more is ever pushed: the gateway notices the hang-up by itself.
  CHECK(stream->WaitCancelled());
}

TEST_CASE("gateway: Stop cancels a streamed answer, and holds no management slot meanwhile",
          "[gateway][api][stream]") {
  auto stream = std::make_shared<TestStream>();
  GatewayOptions o = TestOptions();
  o.worker_threads = 1;
  o.max_api_queue = 0;
  Harness h(o, StreamRoutes(stream));
  RawClient client(h.port);
  client.Write(kStreamRequest);
  client.ReadUntil("first\n");
  // The stream holds a connection, not the one worker: another management call runs.
  CHECK(Fetch(h.port, http::verb::get, "/quick", "", {{"Authorization", "Bearer s3cret"}})
            .result_int() == 200);
  h.gateway->Stop();
  CHECK(stream->WaitCancelled());
}

}  // namespace streams
}  // namespace
}  // namespace gantry::gateway
