// A stem cell's front door (protocol14): calls are refused until POST /_/specialize, which
// answers 200 once the runner says the function is ready, 400 for a malformed body (still
// a stem), 409 for every later call and 502 when the function can't load; the late
// settings it gives reach the admission limit. Driven through ShimServer::Handle with a
// runner double: no sockets, no processes.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shim_server.h"

namespace gantry::shim {
namespace {

namespace http = boost::beast::http;

// Records what the server asks of the function; answers calls at once unless told to
// hold them.
class FakeRunner final : public FunctionRunner {
 public:
  bool Start(FatalFn, std::string&) override { return true; }
  bool Ready() const override { return ready; }
  void Invoke(const std::shared_ptr<Call>& call) override {
    ++invoked;
    if (hold) {
      held.push_back(call);
      return;
    }
    FunctionReply reply;
    reply.body = "answered";
    call->Finish(reply);
  }
  void Abandon(const std::shared_ptr<Call>&) override {}
  void Specialize(const Specialization& specialization, SpecializedFn done) override {
    ++specialized;
    got = specialization;
    done_ = std::move(done);
  }
  void Stop(int) override { stopped = true; }
  bool Running() const override { return false; }

  // Ends the pending specialisation as the real runners do.
  void Done(bool ok, const std::string& error = "") {
    REQUIRE(done_);
    auto done = std::move(done_);
    done_ = nullptr;
    done(ok, error);
  }

  bool ready = true;
  bool hold = false;
  bool stopped = false;
  int invoked = 0;
  int specialized = 0;
  std::optional<Specialization> got;
  std::vector<std::shared_ptr<Call>> held;

 private:
  SpecializedFn done_;
};

// One request to the server; the answer lands in `*answer` whenever it is given.
std::shared_ptr<std::optional<HttpResponse>> Ask(ShimServer& server, http::verb method,
                                                 const std::string& target,
                                                 const std::string& body = "") {
  auto answer = std::make_shared<std::optional<HttpResponse>>();
  HttpRequest request{method, target, 11};
  request.body() = body;
  request.prepare_payload();
  server.Handle(std::move(request),
                Responder([answer](HttpResponse response) { *answer = std::move(response); }));
  return answer;
}

unsigned Status(const std::shared_ptr<std::optional<HttpResponse>>& answer) {
  return answer->has_value() ? (*answer)->result_int() : 0;
}

std::string Body(const std::shared_ptr<std::optional<HttpResponse>>& answer) {
  return answer->has_value() ? (*answer)->body() : "(no answer)";
}

ShimConfig MakeConfig(bool stem) {
  ShimConfig config;
  config.stem = stem;
  if (!stem) config.command = {"cat"};
  return config;
}

struct Fixture {
  explicit Fixture(bool stem = true) : config(MakeConfig(stem)) {}
  boost::asio::io_context io;
  SystemClock clock;
  ShimConfig config;
  FakeRunner runner;
  ShimServer server{io, config, clock, runner};
};

TEST_CASE("A stem refuses calls until it is specialised, then serves them", "[shim][stem]") {
  Fixture f;
  auto early = Ask(f.server, http::verb::post, "/", "hello");
  CHECK(Status(early) == 503);
  CHECK_THAT(Body(early), Catch::Contains("\"error\":\"not specialised\""));
  CHECK(f.runner.invoked == 0);

  // Ready says whether the stem is loaded.
  f.runner.ready = false;
  CHECK(Status(Ask(f.server, http::verb::get, "/_/ready")) == 503);
  f.runner.ready = true;
  CHECK(Status(Ask(f.server, http::verb::get, "/_/ready")) == 200);

  auto specialize = Ask(f.server, http::verb::post, "/_/specialize",
                        R"({"command": ["cat"], "env": {"GREETING": "hi"}, "timeout": "2s",
                            "maxInflight": 1, "maxBody": 1024, "functionName": "echo"})");
  // A long poll: answered once the function is ready.
  CHECK_FALSE(specialize->has_value());
  REQUIRE(f.runner.got);
  CHECK(f.runner.got->env.at("GREETING") == "hi");
  CHECK(f.config.command == std::vector<std::string>{"cat"});
  CHECK(f.config.timeout == std::chrono::milliseconds(2000));
  CHECK(f.config.max_inflight == 1);
  CHECK(f.config.max_body == 1024);
  CHECK(f.config.function_name == "echo");
  CHECK(Status(Ask(f.server, http::verb::get, "/_/ready")) == 503);
  CHECK(Status(Ask(f.server, http::verb::post, "/", "too soon")) == 503);
  CHECK(f.runner.invoked == 0);

  f.runner.Done(true);
  CHECK(Status(specialize) == 200);
  CHECK(Body(specialize) == "{\"ready\":true}\n");
  CHECK(Status(Ask(f.server, http::verb::get, "/_/ready")) == 200);
  auto call = Ask(f.server, http::verb::post, "/", "hello");
  CHECK(Status(call) == 200);
  CHECK(Body(call) == "answered");

  // The function's max in-flight (1), not the stem's default (64), is the admission limit.
  f.runner.hold = true;
  auto first = Ask(f.server, http::verb::post, "/", "one");
  CHECK_FALSE(first->has_value());
  auto second = Ask(f.server, http::verb::post, "/", "two");
  CHECK(Status(second) == 429);
  CHECK_THAT(Body(second), Catch::Contains("max 1"));
}

TEST_CASE("A cell is specialised once for life: later calls get 409 whatever their body",
          "[shim][stem]") {
  Fixture f;
  auto specialize = Ask(f.server, http::verb::post, "/_/specialize", R"({"command": ["cat"]})");
  // Even while the first is still under way.
  auto racing = Ask(f.server, http::verb::post, "/_/specialize", R"({"command": ["wc"]})");
  CHECK(Status(racing) == 409);
  f.runner.Done(true);
  REQUIRE(Status(specialize) == 200);
  for (const char* body : {R"({"command": ["cat"]})", R"({"command": ["sh"]})", "{bad", ""}) {
    INFO("body: " << body);
    auto again = Ask(f.server, http::verb::post, "/_/specialize", body);
    CHECK(Status(again) == 409);
    CHECK_THAT(Body(again), Catch::Contains("already specialised"));
  }
  CHECK(f.runner.specialized == 1);
  CHECK(f.config.command == std::vector<std::string>{"cat"});
}

TEST_CASE("A malformed specialisation answers 400 and leaves the stem as it was", "[shim][stem]") {
  Fixture f;
  f.config.mode = Mode::kExec;
  struct Case {
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {"{bad", "not a JSON object"},
      {R"({"env": {"A": 1}})", "env.A"},
      {R"({"maxInflight": 0, "command": ["cat"]})", "maxInflight"},
      {R"({"env": {"A": "1"}})", "command: required in exec mode"},
  };
  for (const auto& c : cases) {
    INFO("body: " << c.body);
    auto refused = Ask(f.server, http::verb::post, "/_/specialize", c.body);
    CHECK(Status(refused) == 400);
    CHECK_THAT(Body(refused), Catch::Contains(c.error));
  }
  CHECK(f.runner.specialized == 0);
  CHECK(f.config.max_inflight == 64);
  CHECK(Status(Ask(f.server, http::verb::post, "/", "x")) == 503);
  CHECK(Status(Ask(f.server, http::verb::get, "/_/specialize")) == 405);

  // Still a stem: a good one goes through.
  auto good = Ask(f.server, http::verb::post, "/_/specialize", R"({"command": ["cat"]})");
  f.runner.Done(true);
  CHECK(Status(good) == 200);
}

TEST_CASE("A function that can't load answers 502 with why, and the shim gives up",
          "[shim][stem]") {
  Fixture f;
  f.config.mode = Mode::kRuntimeApi;
  f.config.command = {"python3", "/opt/gantry/bootstrap.py"};
  auto specialize =
      Ask(f.server, http::verb::post, "/_/specialize", R"({"env": {"_HANDLER": "nosuch.main"}})");
  f.runner.Done(false, "handler import failed: ModuleNotFoundError: No module named 'nosuch'");
  CHECK(Status(specialize) == 502);
  CHECK(Body(specialize) ==
        "{\"error\":\"handler import failed: ModuleNotFoundError: No module named 'nosuch'\"}\n");
  CHECK_FALSE((*specialize)->keep_alive());
  CHECK(f.runner.stopped);
  CHECK(f.server.exit_code() == 3);
  CHECK(Status(Ask(f.server, http::verb::post, "/_/specialize", "{}")) == 409);
  CHECK(Status(Ask(f.server, http::verb::get, "/_/ready")) == 503);
}

TEST_CASE("A shim that is no stem refuses /_/specialize and serves calls as before",
          "[shim][stem]") {
  Fixture f(/*stem=*/false);
  auto refused = Ask(f.server, http::verb::post, "/_/specialize", R"({"command": ["sh"]})");
  CHECK(Status(refused) == 409);
  CHECK_THAT(Body(refused), Catch::Contains("not a stem cell"));
  CHECK(f.runner.specialized == 0);
  CHECK(f.config.command == std::vector<std::string>{"cat"});
  CHECK(Status(Ask(f.server, http::verb::post, "/", "x")) == 200);
}

}  // namespace
}  // namespace gantry::shim
