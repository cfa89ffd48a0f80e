#include "bench/shim_load.h"

#include <algorithm>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

namespace gantry::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// The state all connections share: how many requests are left, the latencies so far.
struct Run {
  asio::generic::stream_protocol::endpoint endpoint;
  const LoadOptions* options = nullptr;
  http::request<http::string_body> request;
  int64_t issued = 0;
  Clock::time_point deadline;
  std::vector<double> latencies_ms;
  LoadResult result;
};

// One kept-alive connection sending requests back to back.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, Run& run) : io_(io), run_(run), socket_(io) {}

  void Start() { Connect(); }

 private:
  void Connect() {
    socket_ = asio::generic::stream_protocol::socket(io_);
    socket_.async_connect(run_.endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->Error("connect: " + ec.message());
        return;
      }
      self->Next();
    });
  }

  void Next() {
    if (run_.issued >= run_.options->requests || Clock::now() >= run_.deadline) return;
    ++run_.issued;
    started_ = Clock::now();
    http::async_write(
        socket_, run_.request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) {
            self->Error("write: " + ec.message());
            return;
          }
          self->parser_.emplace();
          self->parser_->body_limit(std::uint64_t{64} * 1024 * 1024);
          http::async_read(
              self->socket_, self->buffer_, *self->parser_,
              [self](beast::error_code read_ec, std::size_t) { self->OnRead(read_ec); });
        });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      Error("read: " + ec.message());
      return;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    auto& response = parser_->get();
    if (response.result_int() / 100 == 2) {
      ++run_.result.ok;
      run_.latencies_ms.push_back(ms);
    } else {
      ++run_.result.failed;
      if (run_.result.first_error.empty()) {
        run_.result.first_error = "status " + std::to_string(response.result_int()) + ": " +
                                  response.body().substr(0, 200);
      }
    }
    if (!response.keep_alive()) {
      Connect();
      return;
    }
    Next();
  }

  void Error(const std::string& what) {
    ++run_.result.failed;
    if (run_.result.first_error.empty()) run_.result.first_error = what;
    beast::error_code ignored;
    socket_.close(ignored);
    // Back off briefly so a dead target doesn't spin; the deadline still bounds the run.
    if (run_.result.failed > run_.options->requests) return;
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(10));
    timer->async_wait([self = shared_from_this(), timer](beast::error_code) { self->Connect(); });
  }

  asio::io_context& io_;
  Run& run_;
  asio::generic::stream_protocol::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Clock::time_point started_;
};

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto index = static_cast<std::size_t>(std::lround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

LoadResult RunLoad(const LoadTarget& target, const LoadOptions& options) {
  asio::io_context io(1);
  Run run;
  run.options = &options;
  if (!target.unix_path.empty()) {
    run.endpoint = asio::local::stream_protocol::endpoint(target.unix_path);
  } else {
    beast::error_code ec;
    auto address = asio::ip::make_address(target.host, ec);
    if (ec) {
      run.result.first_error = "bad address " + target.host;
      run.result.failed = 1;
      return run.result;
    }
    run.endpoint = asio::ip::tcp::endpoint(address, target.port);
  }
  run.request =
      http::request<http::string_body>{http::string_to_verb(options.method), options.target, 11};
  run.request.set(http::field::host, "bench");
  run.request.keep_alive(true);
  run.request.body() = options.body;
  run.request.prepare_payload();
  run.latencies_ms.reserve(
      static_cast<std::size_t>(std::min<int64_t>(options.requests, 10'000'000)));

  auto start = Clock::now();
  run.deadline = start + options.max_time;
  for (int i = 0; i < options.concurrency; ++i) std::make_shared<Connection>(io, run)->Start();
  io.run_for(options.max_time + std::chrono::seconds(5));
  run.result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.result.rps =
      run.result.seconds > 0 ? static_cast<double>(run.result.ok) / run.result.seconds : 0;
  std::sort(run.latencies_ms.begin(), run.latencies_ms.end());
  run.result.p50_ms = Percentile(run.latencies_ms, 0.50);
  run.result.p99_ms = Percentile(run.latencies_ms, 0.99);
  return run.result;
}

std::string FormatResult(const LoadResult& result) {
  char line[256];
  std::snprintf(line, sizeof line,
                "rps=%.1f p50_ms=%.3f p99_ms=%.3f ok=%lld failed=%lld seconds=%.3f", result.rps,
                result.p50_ms, result.p99_ms, static_cast<long long>(result.ok),
                static_cast<long long>(result.failed), result.seconds);
  return line;
}

bool ParseResult(const std::string& line, LoadResult& result) {
  long long ok = 0;
  long long failed = 0;
  auto at = line.find("rps=");
  if (at == std::string::npos) return false;
  int n = std::sscanf(line.c_str() + at,
                      "rps=%lf p50_ms=%lf p99_ms=%lf ok=%lld failed=%lld seconds=%lf", &result.rps,
                      &result.p50_ms, &result.p99_ms, &ok, &failed, &result.seconds);
  result.ok = ok;
  result.failed = failed;
  return n == 6;
}

}  // namespace gantry::bench
