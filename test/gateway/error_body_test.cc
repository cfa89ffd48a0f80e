// What a caller reads when a call fails before its replica answers: the gateway's 502, 503
// and 504 bodies name the function and what failed in user terms (the backend's hint),
// never a host path, a socket path or Asio's words. The gateway on 127.0.0.1:<any port>
// against replicas on unix sockets in a temporary directory standing in for the run dir.
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "gateway/gateway.h"
#include "gateway/test_upstream.h"

namespace gantry::gateway {
namespace {

namespace http = boost::beast::http;
using testing::Fetch;
using testing::TestUpstream;
using Json = nlohmann::json;

// Resolves every name to one target (or error) and answers Hint with what the test set.
class HintingBackend : public InvokeBackend {
 public:
  void Set(Target t) {
    std::lock_guard lock(mu_);
    target_ = std::move(t);
    error_.reset();
  }
  void Fail(core::Error e) {
    std::lock_guard lock(mu_);
    error_ = std::move(e);
  }
  void SetHint(FailureHint h) {
    std::lock_guard lock(mu_);
    hint_ = std::move(h);
  }
  void Resolve(const std::string&, const std::string&, ResolveCallback done) override {
    std::unique_lock lock(mu_);
    if (error_) {
      core::Error e = *error_;
      lock.unlock();
      done(std::move(e));
      return;
    }
    Target t = target_;
    lock.unlock();
    t.release = [](bool, const std::string&) {};
    done(std::move(t));
  }
  FailureHint Hint(const std::string& ns, const std::string& name) override {
    std::lock_guard lock(mu_);
    hinted_ = ns + "/" + name;
    return hint_;
  }
  std::string hinted() {
    std::lock_guard lock(mu_);
    return hinted_;
  }

 private:
  std::mutex mu_;
  Target target_;
  std::optional<core::Error> error_;
  FailureHint hint_;
  std::string hinted_;
};

// A directory like gantryd's run dir, removed at the end.
class RunDir {
 public:
  RunDir() {
    char tmpl[] = "/tmp/gantry-errbody-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~RunDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A unix socket file nobody listens on any more: connecting is refused.
std::string DeadSocket(const std::string& dir) {
  std::string path = dir + "/r1/shim.sock";
  std::filesystem::create_directories(dir + "/r1");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::copy(path.begin(), path.end(), addr.sun_path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  return path;
}

struct Harness {
  Harness() {
    GatewayOptions o;
    o.listen = "127.0.0.1:0";
    o.token = "s3cret";
    o.io_threads = 1;
    o.worker_threads = 1;
    gateway = std::make_unique<Gateway>(std::move(o), backend, std::vector<Route>{});
    REQUIRE(gateway->Start().ok());
    port = gateway->port();
  }
  HintingBackend backend;
  std::unique_ptr<Gateway> gateway;
  int port = 0;
};

const FailureHint kImportFailed{
    "handler import failed: ModuleNotFoundError: No module named 'requests'",
    "ModuleNotFoundError: No module named 'requests'", false};

// The body as JSON, after checking what no error body may say.
Json ErrorBody(const testing::TestClient::Response& r, const std::vector<std::string>& never) {
  INFO(r.body());
  CHECK(r[http::field::content_type] == "application/json");
  for (const auto& word : never) CHECK_THAT(r.body(), !Catch::Contains(word));
  for (const char* word : {"end of stream", "Connection refused", "No such file", ".sock"}) {
    CHECK_THAT(r.body(), !Catch::Contains(word, Catch::CaseSensitive::No));
  }
  return Json::parse(r.body());
}

TEST_CASE("gateway: a replica that can't be reached gets a 502 naming the failure, not its socket",
          "[gateway][errors]") {
  Harness h;
  RunDir run;
  Target dead;
  dead.unix_socket = DeadSocket(run.path());
  dead.replica = "rc6af2d2737";
  h.backend.Set(dead);
  h.backend.SetHint(kImportFailed);

  auto r = Fetch(h.port, http::verb::post, "/function/hello.team", "x");
  CHECK(r.result_int() == 502);
  Json body = ErrorBody(r, {run.path()});
  CHECK(body["function"] == "hello");
  CHECK(body["error"] ==
        "function hello's replica rc6af2d2737 could not be reached: handler import failed: "
        "ModuleNotFoundError: No module named 'requests'");
  CHECK(body["reason"] == kImportFailed.reason);
  CHECK(body["lastLog"] == kImportFailed.last_log_line);
  CHECK(h.backend.hinted() == "team/hello");

  // No socket at all in the run dir: the same words.
  dead.unix_socket = run.path() + "/r2/shim.sock";
  h.backend.Set(dead);
  auto missing = Fetch(h.port, http::verb::get, "/function/hello.team");
  CHECK(missing.result_int() == 502);
  ErrorBody(missing, {run.path()});
}

TEST_CASE("gateway: a replica that closes without an answer gets a 502 without Asio's words",
          "[gateway][errors]") {
  Harness h;
  TestUpstream up(true);
  Target t;
  t.unix_socket = up.socket_path();
  t.replica = "r-close";
  h.backend.Set(t);

  SECTION("nothing known about the function") {
    auto r = Fetch(h.port, http::verb::get, "/function/hello/close");
    CHECK(r.result_int() == 502);
    Json body = ErrorBody(r, {up.socket_path(), "/tmp"});
    CHECK(body["error"] == "function hello's replica r-close stopped before answering");
    CHECK_FALSE(body.contains("reason"));
    CHECK_FALSE(body.contains("lastLog"));
  }
  SECTION("the backend knows why its replicas fail") {
    h.backend.SetHint(kImportFailed);
    auto r = Fetch(h.port, http::verb::get, "/function/hello/close");
    CHECK(r.result_int() == 502);
    Json body = ErrorBody(r, {up.socket_path(), "/tmp"});
    CHECK_THAT(body["error"].get<std::string>(),
               Catch::StartsWith("function hello's replica r-close stopped before answering: "
                                 "handler import failed: ModuleNotFoundError"));
    CHECK(body["lastLog"] == kImportFailed.last_log_line);
  }
}

TEST_CASE("gateway: 503 and 504 bodies give the reason only while no replica serves",
          "[gateway][errors]") {
  Harness h;
  h.backend.Fail(core::Error::Timeout("no free replica of team/hello within 30000 ms"));

  FailureHint hint = kImportFailed;
  h.backend.SetHint(hint);
  auto none = Fetch(h.port, http::verb::get, "/function/hello.team");
  CHECK(none.result_int() == 503);
  Json body = ErrorBody(none, {});
  CHECK(body["error"] == "no free replica of team/hello within 30000 ms: " + kImportFailed.reason);
  CHECK(body["reason"] == kImportFailed.reason);

  hint.serving = true;  // the reason is about an older failure: busy, not broken
  h.backend.SetHint(hint);
  auto busy = Fetch(h.port, http::verb::get, "/function/hello.team");
  CHECK(busy.result_int() == 503);
  body = ErrorBody(busy, {});
  CHECK(body["error"] == "no free replica of team/hello within 30000 ms");
  CHECK_FALSE(body.contains("reason"));
  CHECK(body["lastLog"] == kImportFailed.last_log_line);

  TestUpstream up(true);
  Target quick;
  quick.unix_socket = up.socket_path();
  quick.timeout = std::chrono::milliseconds(100);
  h.backend.Set(quick);
  hint.last_log_line = "still working on it";
  h.backend.SetHint(hint);
  auto slow = Fetch(h.port, http::verb::get, "/function/hello/sleep?ms=1000");
  CHECK(slow.result_int() == 504);
  body = ErrorBody(slow, {up.socket_path()});
  CHECK(body["error"] == "function hello did not answer within its timeout of 100 ms");
  CHECK(body["lastLog"] == "still working on it");
}

TEST_CASE("gateway: a replica that failed to start gets a 502 with the pool's reason",
          "[gateway][errors]") {
  Harness h;
  h.backend.Fail(
      core::Error::Internal("team/hello: replica failed to start: container exited (code 3)"));
  auto r = Fetch(h.port, http::verb::get, "/function/hello.team");
  CHECK(r.result_int() == 502);
  Json body = ErrorBody(r, {});
  CHECK(body["error"] == "function hello's replica failed to start: container exited (code 3)");
  CHECK(body["reason"] == "container exited (code 3)");

  h.backend.SetHint(kImportFailed);  // the backend's reason is the better one
  body = ErrorBody(Fetch(h.port, http::verb::get, "/function/hello.team"), {});
  CHECK(body["error"] == "function hello's replica failed to start: " + kImportFailed.reason);

  // Not a 5xx: the body stays as it was.
  h.backend.Fail(core::Error::NotFound("function team/nope not found"));
  auto gone = Fetch(h.port, http::verb::get, "/function/nope.team");
  CHECK(gone.result_int() == 404);
  CHECK(Json::parse(gone.body()) ==
        Json{{"error", "function team/nope not found"}, {"function", "nope"}});
}

}  // namespace
}  // namespace gantry::gateway
