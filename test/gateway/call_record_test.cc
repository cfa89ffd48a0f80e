// GatewayOptions::on_call: one record per invoke of a known function, after its answer,
// with the bytes relayed, status, cold start, wait and run time (a ManualClock moved by the
// backend), and the error a caller was told. The real gateway on 127.0.0.1:0 against the
// test upstreams.
#include <boost/beast/core.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "core/clock.h"
#include "gateway/gateway.h"
#include "gateway/test_upstream.h"

namespace gantry::gateway {
namespace {

namespace http = boost::beast::http;
using testing::Fetch;
using testing::TestUpstream;

class Backend : public InvokeBackend {
 public:
  std::map<std::string, Target> targets;
  std::map<std::string, core::Error> errors;
  core::ManualClock* clock = nullptr;  // resolving takes 250 ms

  void Resolve(const std::string& ns, const std::string& name, ResolveCallback done) override {
    if (clock) clock->Advance(std::chrono::milliseconds(250));
    if (auto e = errors.find(name); e != errors.end()) return done(e->second);
    auto t = targets.find(name);
    if (t == targets.end()) return done(core::Error::NotFound(name + " not found in " + ns));
    Target target = t->second;
    target.release = [](bool, const std::string&) {};
    done(std::move(target));
  }
};

class Records {
 public:
  CallRecordFn hook() {
    return [this](CallRecord&& r) {
      std::lock_guard lock(mu_);
      records_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  // The n-th record (waiting a bounded while: it comes after the answer is written).
  CallRecord At(std::size_t n) {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return records_.size() > n; }));
    return records_[n];
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return records_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CallRecord> records_;
};

struct Harness {
  core::ManualClock clock;
  Backend backend;
  Records records;
  TestUpstream up{true};
  std::unique_ptr<Gateway> gateway;
  int port = 0;

  explicit Harness(bool with_hook = true) {
    Target echo;
    echo.unix_socket = up.socket_path();
    echo.replica = "0123456789abcdef";
    echo.generation = 7;
    backend.targets["echo"] = echo;
    Target cold = echo;
    cold.cold_start = true;
    backend.targets["cold"] = cold;
    Target dead;
    dead.unix_socket = "/tmp/gantry-call-record-test-no-such-socket";
    dead.replica = "dead";
    backend.targets["dead"] = dead;
    backend.errors.emplace("busy", core::Error::Unavailable("no replica of busy was free"));
    backend.clock = &clock;
    GatewayOptions o;
    o.listen = "127.0.0.1:0";
    o.token = "t";
    o.io_threads = 1;
    o.worker_threads = 1;
    o.clock = &clock;
    o.wall_clock = [] {
      return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    };
    if (with_hook) o.on_call = records.hook();
    gateway = std::make_unique<Gateway>(o, backend, std::vector<Route>{});
    REQUIRE(gateway->Start().ok());
    port = gateway->port();
  }
};

TEST_CASE("on_call: a relayed call's record has its ids, bytes, status and times",
          "[gateway][records]") {
  Harness h;
  auto r = Fetch(h.port, http::verb::post, "/function/echo.team-a/x", "hello body",
                 {{"X-Call-Id", "call-1"}});
  REQUIRE(r.result_int() == 200);
  CallRecord c = h.records.At(0);
  CHECK(c.call_id == "call-1");
  CHECK(c.ns == "team-a");
  CHECK(c.name == "echo");
  CHECK(c.replica == "0123456789abcdef");
  CHECK(c.generation == 7);
  CHECK(c.trigger == "http");
  CHECK_FALSE(c.cold);
  CHECK(c.status == 200);
  CHECK(c.request_bytes == 10);
  CHECK(c.response_bytes == static_cast<int64_t>(r.body().size()));
  CHECK(c.queue_wait == std::chrono::milliseconds(250));
  CHECK(c.run_time == std::chrono::microseconds(0));  // the clock only moves in Resolve
  CHECK(c.error.empty());
  CHECK(c.started == std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
}

TEST_CASE("on_call: large answers are counted, cold starts and errors marked",
          "[gateway][records]") {
  Harness h;
  auto big = Fetch(h.port, http::verb::get, "/function/echo/big?n=300000");
  REQUIRE(big.body().size() == 300000);
  CHECK(h.records.At(0).response_bytes == 300000);
  CHECK(h.records.At(0).request_bytes == 0);

  Fetch(h.port, http::verb::get, "/function/cold/status?code=500");
  CallRecord cold = h.records.At(1);
  CHECK(cold.cold);
  CHECK(cold.status == 500);
  CHECK(cold.error.empty());  // the function answered

  auto busy = Fetch(h.port, http::verb::get, "/function/busy");
  CHECK(busy.result_int() >= 429);
  CallRecord b = h.records.At(2);
  CHECK(b.name == "busy");
  CHECK(b.status == static_cast<int>(busy.result_int()));
  CHECK(b.replica.empty());
  CHECK_THAT(b.error, Catch::Contains("no replica of busy was free"));

  auto dead = Fetch(h.port, http::verb::get, "/function/dead");
  CHECK(dead.result_int() == 502);
  CallRecord d = h.records.At(3);
  CHECK(d.status == 502);
  CHECK_FALSE(d.error.empty());
  CHECK(d.replica == "dead");
}

TEST_CASE("on_call: unknown functions and unparsable targets leave no record",
          "[gateway][records]") {
  Harness h;
  CHECK(Fetch(h.port, http::verb::get, "/function/nope").result_int() == 404);
  CHECK(Fetch(h.port, http::verb::get, "/function/").result_int() >= 400);
  Fetch(h.port, http::verb::get, "/function/echo");
  CHECK(h.records.At(0).name == "echo");  // the only one
  CHECK(h.records.size() == 1);
}

TEST_CASE("on_call: without a hook the calls are served as before", "[gateway][records]") {
  Harness h(/*with_hook=*/false);
  CHECK(Fetch(h.port, http::verb::post, "/function/echo", "x").result_int() == 200);
  CHECK(h.records.size() == 0);
}

}  // namespace
}  // namespace gantry::gateway
