#include "pool/readiness.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <thread>

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

// A unix socket answering every connection "HTTP/1.0 200 OK" (a shim's /_/ready, or the
// engine's API a function would like gantryd to reach), counting what it served.
class ReadyServer {
 public:
  explicit ReadyServer(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buffer[1024];
        (void)!::recv(c, buffer, sizeof buffer, 0);
        const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        (void)!::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
        ::close(c);
        ++served_;
      }
    });
  }
  ~ReadyServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int served() const { return served_.load(); }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST_CASE("pool: the readiness probe never follows a symlink put in place of the shim's socket",
          "[pool]") {
  char dir[] = "/tmp/gantry-readiness.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string tmp = dir;
  {
    ReadyServer engine(tmp + "/docker.sock");
    ReadyServer shim(tmp + "/real.sock");
    Endpoint real{.unix_socket = tmp + "/real.sock"};
    CHECK(ProbeOnce(real, "/_/ready", 2s) == 200);
    CHECK(shim.served() == 1);

    std::string link = tmp + "/shim.sock";
    REQUIRE(::symlink((tmp + "/docker.sock").c_str(), link.c_str()) == 0);
    Endpoint swapped{.unix_socket = link};
    CHECK(ProbeOnce(swapped, "/_/ready", 2s) == 0);
    HttpReadinessProbe probe;
    auto ready = probe.WaitReady(swapped, 100ms, nullptr);
    CHECK_FALSE(ready.ok());
    CHECK(engine.served() == 0);
  }
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace gantry::pool
