// bench/gateway: what the gateway adds to a warm call. One upstream (a minimal keep-alive
// Beast echo server on a unix socket in /tmp, in this process) is called directly and
// through the gateway (127.0.0.1:<any port>, a backend that always names that socket), at
// concurrency 1 and 16, in alternating rounds; prints rps, p50, p99 and gateway/direct.
// Then what invocation records cost the warm path: the same call through that gateway
// (records off) and a second one whose on_call feeds gantryd's InvocationRecorder into a
// real store in /tmp (records on), interleaved rounds, medians; prints on/off.
//   gantry-bench-gateway [-n REQUESTS] [-t SECONDS] [--rounds N] [--io-threads N]
#include <unistd.h>

// First: Boost 1.74's awaitable.hpp uses std::exchange without including it.
// clang-format off
#include <utility>
// clang-format on

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "daemon/invocation_recorder.h"
#include "gateway/gateway.h"
#include "shim_load.h"
#include "store/store.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = net::local::stream_protocol;
using namespace gantry;

net::awaitable<void> Serve(local::socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(socket, buffer, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::move(req.body());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await http::async_write(socket, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
}

net::awaitable<void> Accept(local::acceptor& acceptor) {
  for (;;) {
    beast::error_code ec;
    local::socket s = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), Serve(std::move(s)), net::detached);
  }
}

class FixedBackend : public gateway::InvokeBackend {
 public:
  explicit FixedBackend(std::string path) : path_(std::move(path)) {}
  void Resolve(const std::string&, const std::string&, gateway::ResolveCallback done) override {
    gateway::Target t;
    t.unix_socket = path_;
    t.replica = "0123456789abcdef0123456789abcdef";
    t.release = [](bool, const std::string&) {};
    done(std::move(t));
  }

 private:
  std::string path_;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Point {
  std::vector<double> rps, p50, p99;
  int64_t failed = 0;
  std::string error;
};

}  // namespace

int main(int argc, char** argv) {
  int64_t requests = 20000;
  double seconds = 4;
  int rounds = 3;
  int io_threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "-n") {
      requests = std::atoll(argv[i + 1]);
    } else if (flag == "-t") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--io-threads") {
      io_threads = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(
          stderr,
          "usage: gantry-bench-gateway [-n REQUESTS] [-t SECONDS] [--rounds N] [--io-threads N]\n");
      return 2;
    }
  }

  std::string path = "/tmp/gantry-bench-gateway-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  net::io_context upstream_io(1);
  local::acceptor acceptor(upstream_io, local::endpoint(path));
  net::co_spawn(upstream_io, Accept(acceptor), net::detached);
  std::thread upstream_thread([&] { upstream_io.run(); });

  FixedBackend backend(path);
  gateway::GatewayOptions options;
  options.listen = "127.0.0.1:0";
  options.auth_disabled = true;
  options.io_threads = io_threads;
  gateway::Gateway gw(options, backend, {});
  if (auto s = gw.Start(); !s.ok()) {
    std::fprintf(stderr, "gantry-bench-gateway: %s\n", s.error().ToString().c_str());
    return 1;
  }

  bench::LoadTarget direct;
  direct.unix_path = path;
  bench::LoadTarget through;
  through.port = static_cast<unsigned short>(gw.port());

  std::printf(
      "gateway vs direct, same upstream (unix socket echo), %d rounds of <= %lld requests or %.0f "
      "s "
      "per point, gateway io threads: %d\n\n",
      rounds, static_cast<long long>(requests), seconds, io_threads);
  std::printf("%-5s %-8s %10s %9s %9s\n", "conc", "path", "rps", "p50_ms", "p99_ms");
  int status = 0;
  for (int concurrency : {1, 16}) {
    Point points[2];
    for (int r = 0; r < rounds; ++r) {
      for (int which = 0; which < 2; ++which) {
        bench::LoadOptions load;
        load.concurrency = concurrency;
        load.requests = requests;
        load.max_time = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
        load.method = "POST";
        load.target = which == 0 ? "/" : "/function/echo";
        load.body = "hello";
        bench::LoadResult res = bench::RunLoad(which == 0 ? direct : through, load);
        Point& p = points[which];
        p.rps.push_back(res.rps);
        p.p50.push_back(res.p50_ms);
        p.p99.push_back(res.p99_ms);
        p.failed += res.failed;
        if (p.error.empty()) p.error = res.first_error;
      }
    }
    const char* names[2] = {"direct", "gateway"};
    for (int which = 0; which < 2; ++which) {
      const Point& p = points[which];
      std::printf("%-5d %-8s %10.0f %9.3f %9.3f%s\n", concurrency, names[which], Median(p.rps),
                  Median(p.p50), Median(p.p99), p.failed ? "  (failures!)" : "");
      if (p.failed) {
        std::fprintf(stderr, "%s c%d: %lld failed: %s\n", names[which], concurrency,
                     static_cast<long long>(p.failed), p.error.c_str());
        status = 1;
      }
    }
    std::printf(
        "c%-4d ratio gateway/direct rps: %.2f   added p50: %.0f us   added p99: %.0f us\n\n",
        concurrency, Median(points[1].rps) / std::max(1.0, Median(points[0].rps)),
        (Median(points[1].p50) - Median(points[0].p50)) * 1000,
        (Median(points[1].p99) - Median(points[0].p99)) * 1000);
  }

  // Records on vs off: a second gateway that records every call.
  std::filesystem::path db_dir = std::filesystem::temp_directory_path() /
                                 ("gantry-bench-records-" + std::to_string(::getpid()));
  std::filesystem::create_directories(db_dir);
  auto store = store::Store::Open((db_dir / "gantry.db").string());
  if (!store) {
    std::fprintf(stderr, "gantry-bench-gateway: %s\n", store.error().ToString().c_str());
    return 1;
  }
  daemon::InvocationRecorder recorder(**store);
  recorder.Start();
  gateway::GatewayOptions recorded_options = options;
  recorded_options.on_call = recorder.Hook();
  gateway::Gateway recorded(recorded_options, backend, {});
  if (auto s = recorded.Start(); !s.ok()) {
    std::fprintf(stderr, "gantry-bench-gateway: %s\n", s.error().ToString().c_str());
    return 1;
  }
  bench::LoadTarget with_records;
  with_records.port = static_cast<unsigned short>(recorded.port());
  std::printf("records off vs on (InvocationRecorder into SQLite), same rounds\n\n");
  std::printf("%-5s %-8s %10s %9s %9s\n", "conc", "records", "rps", "p50_ms", "p99_ms");
  for (int concurrency : {1, 16}) {
    Point points[2];
    for (int r = 0; r < rounds; ++r) {
      for (int which = 0; which < 2; ++which) {
        bench::LoadOptions load;
        load.concurrency = concurrency;
        load.requests = requests;
        load.max_time = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
        load.method = "POST";
        load.target = "/function/echo";
        load.body = "hello";
        bench::LoadResult res = bench::RunLoad(which == 0 ? through : with_records, load);
        Point& p = points[which];
        p.rps.push_back(res.rps);
        p.p50.push_back(res.p50_ms);
        p.p99.push_back(res.p99_ms);
        p.failed += res.failed;
        if (p.error.empty()) p.error = res.first_error;
      }
    }
    const char* names[2] = {"off", "on"};
    for (int which = 0; which < 2; ++which) {
      const Point& p = points[which];
      std::printf("%-5d %-8s %10.0f %9.3f %9.3f%s\n", concurrency, names[which], Median(p.rps),
                  Median(p.p50), Median(p.p99), p.failed ? "  (failures!)" : "");
      if (p.failed) {
        std::fprintf(stderr, "records %s c%d: %lld failed: %s\n", names[which], concurrency,
                     static_cast<long long>(p.failed), p.error.c_str());
        status = 1;
      }
    }
    std::printf("c%-4d ratio records on/off rps: %.3f (goal >= 0.97)\n\n", concurrency,
                Median(points[1].rps) / std::max(1.0, Median(points[0].rps)));
  }
  recorded.Stop();
  recorder.Stop();
  std::printf(
      "records written: %lld, dropped: %llu\n",
      static_cast<long long>((*store)->ListInvocations("default", "echo", {.limit = 0})->size()),
      static_cast<unsigned long long>(recorder.dropped()));
  store->reset();
  std::filesystem::remove_all(db_dir);

  gw.Stop();
  upstream_io.stop();
  upstream_thread.join();
  ::unlink(path.c_str());
  return status;
}
