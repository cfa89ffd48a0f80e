// An async call's invocation record as the dispatcher keeps it: queued at enqueue, running
// at claim, queued again for a retry, succeeded or failed with its (bounded) result. A real
// store in a temporary directory, a fake sender, workers = 0 (the test steps with RunOnce).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "daemon/async_dispatcher.h"
#include "gateway/error_mapping.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Fixture {
  static inline int n_ = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("gantry-async-rec-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
  core::ManualClock clock;
  std::unique_ptr<store::Store> store;
  std::vector<http::Response> script;  // the gateway's answers, in order; then 200 "ok"
  std::size_t next = 0;
  std::unique_ptr<AsyncDispatcher> dispatcher;
  gateway::Route route;

  explicit Fixture(AsyncOptions options = {}) {
    fs::create_directories(dir);
    auto opened = store::Store::Open((dir / "gantry.db").string(), {.clock = &clock});
    REQUIRE(opened.ok());
    store = std::move(*opened);
    store::FunctionRecord echo{
        .namespace_name = "default", .name = "echo", .spec_json = "{}", .hash = "h"};
    REQUIRE(store->PutFunction(echo).ok());
    options.workers = 0;
    options.retry_delay = std::chrono::milliseconds(0);
    dispatcher =
        std::make_unique<AsyncDispatcher>(*store, std::move(options), [this](const http::Request&) {
          if (next < script.size()) return script[next++];
          return http::Response{.status = 200, .body = "ok"};
        });
    REQUIRE(dispatcher->Start("http://gateway").ok());
    route = dispatcher->Route();
  }
  ~Fixture() {
    dispatcher.reset();
    store.reset();
    fs::remove_all(dir);
  }

  std::string Post() {
    gateway::ApiRequest r;
    r.method = "POST";
    r.target = r.path = "/async-function/echo";
    r.body = "hi";
    auto answer = gateway::ToApiResponse(route.handler(r));
    REQUIRE(answer.status == 202);
    return json::parse(answer.body)["callId"];
  }
  store::InvocationRecord Record(const std::string& id) {
    auto r = store->GetInvocation("default", id);
    REQUIRE(r.ok());
    return *r;
  }
};

TEST_CASE("async records: queued, then succeeded with the result", "[daemon][records]") {
  Fixture f;
  f.script.push_back({.status = 200, .body = "hello", .headers = {{"content-type", "text/plain"}}});
  std::string id = f.Post();
  CHECK(f.Record(id).state == "queued");
  CHECK(f.Record(id).trigger == "async");
  REQUIRE(f.dispatcher->RunOnce());
  auto done = f.Record(id);
  CHECK(done.state == "succeeded");
  CHECK(done.attempts == 1);
  CHECK(done.status == 200);
  CHECK(done.result_status == 200);
  CHECK(done.result_body == "hello");
  CHECK(done.result_headers_json == R"({"content-type":"text/plain"})");
  CHECK_FALSE(done.result_truncated);
}

TEST_CASE("async records: retries go back to queued, the last attempt fails the call",
          "[daemon][records]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.script.push_back({.status = 503, .body = "busy"});
  std::string id = f.Post();
  for (int attempt = 1; attempt < 5; ++attempt) {
    REQUIRE(f.dispatcher->RunOnce());
    auto r = f.Record(id);
    CHECK(r.state == "queued");
    CHECK(r.attempts == attempt);
    CHECK(r.status == 503);
  }
  REQUIRE(f.dispatcher->RunOnce());
  auto failed = f.Record(id);
  CHECK(failed.state == "failed");
  CHECK(failed.attempts == 5);
  CHECK(failed.result_body == "busy");
}

TEST_CASE("async records: a function's error fails the call, no answer keeps the error",
          "[daemon][records]") {
  Fixture f;
  f.script.push_back({.status = 500, .body = "boom"});
  std::string id = f.Post();
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.Record(id).state == "failed");
  CHECK(f.Record(id).result_status == 500);

  Fixture g;
  g.script.push_back({.status = 200, .body = std::string(100, 'x'), .response_too_big = true});
  g.script.back().error = "answer over 16 MiB";
  std::string big = g.Post();
  REQUIRE(g.dispatcher->RunOnce());
  CHECK(g.Record(big).state == "failed");
  CHECK(g.Record(big).error == "answer over 16 MiB");
  CHECK(g.Record(big).result_status == 0);
}

TEST_CASE("async records: the result kept is bounded", "[daemon][records]") {
  Fixture f({.max_record_result_bytes = 4});
  f.script.push_back({.status = 200, .body = "hello world"});
  std::string id = f.Post();
  REQUIRE(f.dispatcher->RunOnce());
  CHECK(f.Record(id).result_body == "hell");
  CHECK(f.Record(id).result_truncated);
}

}  // namespace
}  // namespace gantry::daemon
