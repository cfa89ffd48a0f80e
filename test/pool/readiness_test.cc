#include "pool/readiness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "support/temp_dir.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// A listening unix socket (or, with an empty path, TCP on 127.0.0.1) that answers every
// connection with `reply` once the request's head has arrived, then closes it; it records
// the last request and counts what it served. A reply of std::nullopt never answers and
// never accepts (connects still succeed: the backlog takes them), for a peer that is slow.
class FakeServer {
 public:
  FakeServer(const std::string& path, std::optional<std::string> reply) : reply_(std::move(reply)) {
    if (path.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd_ >= 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
      port_ = ntohs(addr.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd_ >= 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      REQUIRE(path.size() < sizeof addr.sun_path);
      std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    REQUIRE(::listen(fd_, 8) == 0);
    if (reply_) thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  int port() const { return port_; }
  int served() const { return served_.load(); }
  std::string last_request() {
    std::lock_guard lock(mu_);
    return last_request_;
  }

 private:
  void Serve() {
    for (;;) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string request;
      char buffer[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        last_request_ = request;
      }
      ++served_;  // before the answer: the probe may return as soon as it has it
      (void)!::send(c, reply_->data(), reply_->size(), MSG_NOSIGNAL);  // the probe may hang up
      ::close(c);
    }
  }

  std::optional<std::string> reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> served_{0};
  std::mutex mu_;
  std::string last_request_;  // guarded by mu_
  std::thread thread_;
};

TEST_CASE("pool: a probe sends one HTTP/1.0 GET and returns the answer's status", "[pool]") {
  TempDir tmp("gantry-readiness");
  std::string socket = tmp.path + "/shim.sock";
  FakeServer shim(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  Endpoint endpoint{.unix_socket = socket};
  CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 200);
  CHECK(shim.last_request() ==
        "GET /_/ready HTTP/1.0\r\nHost: localhost\r\nUser-Agent: gantryd\r\n\r\n");
  HttpReadinessProbe probe;
  CHECK(probe.WaitReady(endpoint, 2s, nullptr).ok());
}

TEST_CASE("pool: a shim is not ready on a status other than 200, garbage, or no answer", "[pool]") {
  TempDir tmp("gantry-readiness");
  std::string socket = tmp.path + "/shim.sock";
  Endpoint endpoint{.unix_socket = socket};
  HttpReadinessProbe probe;

  SECTION("500") {
    FakeServer shim(socket, "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 500);
    auto ready = probe.WaitReady(endpoint, 5ms, nullptr);
    REQUIRE_FALSE(ready.ok());
    CHECK(ready.error().code() == core::ErrorCode::kTimeout);
  }
  SECTION("not HTTP") {
    FakeServer shim(socket, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 0);
    CHECK(shim.served() == 1);
  }
  SECTION("a status line cut short") {
    FakeServer shim(socket, "HTTP/1.0 20");
    CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 0);
  }
  SECTION("a head over 16 KiB") {
    FakeServer shim(socket,
                    "HTTP/1.0 200 OK\r\nX-Padding: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
    CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 0);
  }
  SECTION("a peer that accepts nothing and never answers") {
    FakeServer shim(socket, std::nullopt);
    auto start = std::chrono::steady_clock::now();
    CHECK(ProbeOnce(endpoint, "/_/ready", 5ms) == 0);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    auto ready = probe.WaitReady(endpoint, 5ms, nullptr);
    REQUIRE_FALSE(ready.ok());
    CHECK_THAT(ready.error().message(), Catch::Contains("did not answer within 5 ms"));
  }
  SECTION("no socket yet") {
    CHECK(ProbeOnce(endpoint, "/_/ready", 2s) == 0);
  }
}

TEST_CASE("pool: a readiness wait stops when told to give up", "[pool]") {
  TempDir tmp("gantry-readiness");
  Endpoint endpoint{.unix_socket = tmp.path + "/shim.sock"};
  HttpReadinessProbe probe;
  auto ready = probe.WaitReady(endpoint, 10s, [] { return true; });
  REQUIRE_FALSE(ready.ok());
  CHECK(ready.error().code() == core::ErrorCode::kCancelled);
}

TEST_CASE("pool: an image serving HTTP itself is ready on any answer on its TCP port", "[pool]") {
  FakeServer image("", "HTTP/1.0 404 Not Found\r\nContent-Length: 100000\r\n\r\n");
  Endpoint endpoint{.host = "127.0.0.1", .port = image.port()};
  CHECK(ProbeOnce(endpoint, "/", 2s) == 404);
  HttpReadinessProbe probe;
  CHECK(probe.WaitReady(endpoint, 2s, nullptr).ok());
  CHECK(ProbeOnce(Endpoint{.host = "not an address", .port = image.port()}, "/", 2s) == 0);
}

TEST_CASE("pool: the readiness probe never follows a symlink put in place of the shim's socket",
          "[pool]") {
  TempDir tmp("gantry-readiness");
  const std::string ok = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  FakeServer engine(tmp.path + "/docker.sock", ok);
  FakeServer shim(tmp.path + "/real.sock", ok);
  Endpoint real{.unix_socket = tmp.path + "/real.sock"};
  CHECK(ProbeOnce(real, "/_/ready", 2s) == 200);
  CHECK(shim.served() == 1);

  std::string link = tmp.path + "/shim.sock";
  REQUIRE(::symlink((tmp.path + "/docker.sock").c_str(), link.c_str()) == 0);
  Endpoint swapped{.unix_socket = link};
  CHECK(ProbeOnce(swapped, "/_/ready", 2s) == 0);
  HttpReadinessProbe probe;
  auto ready = probe.WaitReady(swapped, 100ms, nullptr);
  CHECK_FALSE(ready.ok());
  CHECK(engine.served() == 0);
}

}  // namespace
}  // namespace gantry::pool
