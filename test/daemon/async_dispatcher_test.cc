// The async dispatcher over a real store in a temporary directory and a fake HTTP sender:
// no sockets, no sleeps (workers = 0: the test runs each step with RunOnce).
#include "daemon/async_dispatcher.h"

#include <netinet/in.h>
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "gateway/error_mapping.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("gantry-async-" + std::to_string(::getpid()) + "-" + std::to_string(n_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string db() const { return (path_ / "gantry.db").string(); }

 private:
  static inline int n_ = 0;
  fs::path path_;
};

// Plays the gateway and the callback receivers: records each request, answers from a script.
class FakeSender {
 public:
  std::vector<http::Request> requests;
  std::vector<http::Response> script;  // answers in order; then 200 "ok"

  http::Sender sender() {
    return [this](const http::Request& r) {
      requests.push_back(r);
      if (next_ < script.size()) return script[next_++];
      return http::Response{.status = 200, .body = "ok"};
    };
  }

 private:
  std::size_t next_ = 0;
};

// A second connection to the store's file, to make the store fail on purpose.
class Side {
 public:
  explicit Side(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Side() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    INFO(sql);
    REQUIRE(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  std::string One(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string out = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr
                          ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0))
                          : "";
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct Fixture {
  TempDir dir;
  core::ManualClock clock;  // the store's: retries are due at once (retry_delay 0)
  std::unique_ptr<store::Store> store;
  FakeSender fake;
  std::unique_ptr<AsyncDispatcher> dispatcher;
  gateway::Route route;

  explicit Fixture(AsyncOptions options = {}) {
    auto opened = store::Store::Open(dir.db(), {.clock = &clock});
    REQUIRE(opened.ok());
    store = std::move(*opened);
    store::FunctionRecord echo{
        .namespace_name = "default", .name = "echo", .spec_json = "{}", .hash = "h"};
    REQUIRE(store->PutFunction(echo).ok());
    options.workers = 0;
    options.retry_delay = std::chrono::milliseconds(0);
    dispatcher = std::make_unique<AsyncDispatcher>(*store, std::move(options), fake.sender());
    REQUIRE(dispatcher->Start("http://gateway").ok());
    route = dispatcher->Route();
  }

  gateway::ApiResponse Post(const std::string& target,
                            std::map<std::string, std::string> headers = {},
                            std::string body = "hi") {
    gateway::ApiRequest r;
    r.method = "POST";
    r.target = target;
    r.path = target.substr(0, target.find('?'));
    r.headers = std::move(headers);
    r.body = std::move(body);
    return gateway::ToApiResponse(route.handler(r));
  }
};

json Body(const gateway::ApiResponse& r) {
  return json::parse(r.body, nullptr, false);
}

TEST_CASE("async: a queued call reaches the gateway with its path and query as sent",
          "[daemon][async]") {
  Fixture f;
  auto accepted = f.Post("/async-function/echo/sub/p?a=x%26y&b=%2F&c=1+2", {{"x-trace", "t1"}});
  REQUIRE(accepted.status == 202);
  std::string id = Body(accepted)["callId"];
  CHECK(accepted.headers["X-Call-Id"] == id);
  REQUIRE(f.dispatcher->RunOnce());
  REQUIRE(f.fake.requests.size() == 1);
  const http::Request& call = f.fake.requests[0];
  CHECK(call.url == "http://gateway/function/echo.default/sub/p?a=x%26y&b=%2F&c=1+2");
  CHECK(call.body == "hi");
  CHECK_FALSE(call.address_filter);  // gantryd's own gateway: not a callback
  CHECK_FALSE(call.allow_https);
  CHECK(std::count(call.headers.begin(), call.headers.end(), "X-Call-Id: " + id) == 1);
  CHECK(std::count(call.headers.begin(), call.headers.end(), "x-trace: t1") == 1);
  CHECK_FALSE(f.dispatcher->RunOnce());
}

TEST_CASE("async: a path the invoke parser refuses is 400 (no name: 404), never queued",
          "[daemon][async]") {
  Fixture f;
  for (auto [target, status] : {std::pair{"/async-function/echo/../../../system/info", 400},
                                {"/async-function/echo/%2e%2e/x", 400},
                                {"/async-function/echo/a%2Fb", 400},
                                {"/async-function/", 404},
                                {"/async-function/.ns", 404},
                                {"/async-function/e%63ho", 400}}) {
    INFO(target);
    auto r = f.Post(target);
    CHECK(r.status == status);
    CHECK(Body(r).contains("error"));
  }
  CHECK_FALSE(f.dispatcher->RunOnce());
  CHECK(f.fake.requests.empty());
}

TEST_CASE("async: a function that is not deployed is 404 JSON", "[daemon][async]") {
  Fixture f;
  auto r = f.Post("/async-function/nope");
  CHECK(r.status == 404);
  CHECK(Body(r)["error"] == "function nope.default is not deployed");
  CHECK(f.Post("/async-function/echo.other-ns").status == 404);
  CHECK_FALSE(f.dispatcher->RunOnce());
}

TEST_CASE("async: call ids are checked, and a repeated one is 409", "[daemon][async]") {
  Fixture f;
  CHECK(f.Post("/async-function/echo", {{"x-call-id", "job-1.a_B"}}).status == 202);
  auto again = f.Post("/async-function/echo", {{"x-call-id", "job-1.a_B"}});
  CHECK(again.status == 409);
  CHECK(Body(again)["error"] == "call id job-1.a_B already queued");
  for (std::string junk : {std::string(65, 'a'), std::string("a b"), std::string("a/b"),
                           std::string("'; drop"), std::string("\xc3\xa9")}) {
    INFO(junk);
    auto r = f.Post("/async-function/echo", {{"x-call-id", junk}});
    CHECK(r.status == 400);
  }
  CHECK(f.Post("/async-function/echo", {{"x-call-id", std::string(64, 'a')}}).status == 202);
}

TEST_CASE("async: callbacks only to http(s) URLs outside the denied networks", "[daemon][async]") {
  Fixture f;
  for (std::string url :
       {"gopher://127.0.0.1:6379/_FLUSHALL", "file:///etc/shadow", "dict://x:11211/",
        "http://127.0.0.1:8080/system/info", "http://169.254.169.254/", "nonsense"}) {
    INFO(url);
    auto r = f.Post("/async-function/echo", {{"x-callback-url", url}});
    CHECK(r.status == 400);
    CHECK(Body(r).contains("error"));
  }
  CHECK_FALSE(f.dispatcher->RunOnce());
  auto ok = f.Post("/async-function/echo", {{"x-callback-url", "http://hooks.example/done"}});
  REQUIRE(ok.status == 202);
  REQUIRE(f.dispatcher->RunOnce());
  REQUIRE(f.fake.requests.size() == 2);
  const http::Request& cb = f.fake.requests[1];
  CHECK(cb.url == "http://hooks.example/done");
  CHECK(cb.body == "ok");
  // Delivery goes through the policy: the resolved address is checked as curl connects.
  REQUIRE(cb.address_filter);
  CHECK(cb.allow_https);
  sockaddr_in loopback{
      .sin_family = AF_INET, .sin_port = htons(80), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  CHECK(cb.address_filter(reinterpret_cast<const sockaddr&>(loopback)) ==
        "callback address is in a denied network (127.0.0.0/8)");
}

TEST_CASE("async: the queue is bounded (429) and so is a body (413)", "[daemon][async]") {
  AsyncOptions options;
  options.queue = {.max_calls = 2};
  options.max_body_bytes = 10;
  Fixture f(options);
  CHECK(f.Post("/async-function/echo").status == 202);
  CHECK(f.Post("/async-function/echo").status == 202);
  auto full = f.Post("/async-function/echo");
  CHECK(full.status == 429);
  CHECK(Body(full)["error"] == "the async queue is full (2 calls)");
  CHECK(f.Post("/async-function/echo", {}, std::string(11, 'x')).status == 413);
  // A finished call frees its place.
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.Post("/async-function/echo").status == 202);
}

TEST_CASE("async: a finish the store refuses is kept and written later, the call never runs twice",
          "[daemon][async]") {
  Fixture f;
  Side side(f.dir.db());
  REQUIRE(f.Post("/async-function/echo", {{"x-call-id", "once"}}).status == 202);
  side.Exec(
      "CREATE TRIGGER no_finish BEFORE DELETE ON async_calls BEGIN SELECT RAISE(ABORT, 'disk on "
      "fire'); END");
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.fake.requests.size() == 1);
  CHECK(f.dispatcher->PendingOutcomes() == 1);
  // Still running in the store: not claimed again while the outcome waits.
  CHECK_FALSE(f.dispatcher->RunOnce());
  CHECK(side.One("SELECT state FROM async_calls WHERE call_id = 'once'") == "running");
  CHECK(f.dispatcher->PendingOutcomes() == 1);
  side.Exec("DROP TRIGGER no_finish");
  CHECK_FALSE(f.dispatcher->RunOnce());
  CHECK(f.dispatcher->PendingOutcomes() == 0);
  CHECK(side.One("SELECT COUNT(*) FROM async_calls") == "0");
  // Nothing is left to run after a restart either.
  CHECK(*f.store->RequeueRunningAsync() == 0);
  CHECK(f.fake.requests.size() == 1);
  CHECK(side.One("SELECT status FROM invocations WHERE call_id = 'once'") == "200");
}

TEST_CASE("async: a retry the store refuses is kept and written later, the call is not lost",
          "[daemon][async]") {
  Fixture f;
  f.fake.script = {http::Response{.status = 503, .body = "busy"}};
  Side side(f.dir.db());
  REQUIRE(f.Post("/async-function/echo", {{"x-call-id", "later"}}).status == 202);
  side.Exec(
      "CREATE TRIGGER no_retry BEFORE UPDATE ON async_calls WHEN NEW.state = 'queued' "
      "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.dispatcher->PendingOutcomes() == 1);
  CHECK_FALSE(f.dispatcher->RunOnce());
  CHECK(f.fake.requests.size() == 1);
  side.Exec("DROP TRIGGER no_retry");
  // The retry is written, then the call is due again and runs: 200 this time.
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.dispatcher->PendingOutcomes() == 0);
  CHECK(f.fake.requests.size() == 2);
  CHECK(side.One("SELECT COUNT(*) FROM async_calls") == "0");
  CHECK(side.One("SELECT status FROM invocations WHERE call_id = 'later'") == "200");
}

TEST_CASE("async: a call queued by an older gantryd with a traversal path is refused at delivery",
          "[daemon][async]") {
  Fixture f;
  store::AsyncCall old{.call_id = "old",
                       .namespace_name = "default",
                       .function = "echo",
                       .path = "/../../../system/info",
                       .headers_json = "{}"};
  REQUIRE(f.store->EnqueueAsync(old).ok());
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.fake.requests.empty());
  Side side(f.dir.db());
  CHECK(side.One("SELECT status FROM invocations WHERE call_id = 'old'") == "400");
  CHECK(side.One("SELECT COUNT(*) FROM async_calls") == "0");
}

}  // namespace
}  // namespace gantry::daemon
