#include "core/unix_socket.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace gantry::core {
namespace {

namespace fs = std::filesystem;

using TempDir = testing::TempDir;

// A listening unix socket at `path` (nobody accepts: connect() completes on the backlog).
struct Listener {
  explicit Listener(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 8) == 0);
  }
  ~Listener() { ::close(fd); }
  bool HasPending() const {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);  // non-blocking listener
    if (c < 0) return false;
    ::close(c);
    return true;
  }
  int fd = -1;
};

int ConnectTo(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  return rc;
}

TEST_CASE("core: a pinned socket connects to exactly the socket that was checked", "[core]") {
  TempDir tmp;
  std::string shim = tmp.path + "/shim.sock";
  Listener listener(shim);
  auto pinned = PinnedSocket::Open(shim);
  REQUIRE(pinned.ok());
  CHECK_THAT(pinned->connect_path(), Catch::StartsWith("/proc/self/fd/"));

  // The path is swapped after the check (the race a function would try): the pinned
  // descriptor still leads to the original socket, not to what the path now names.
  std::string other = tmp.path + "/other.sock";
  Listener elsewhere(other);
  REQUIRE(::rename(shim.c_str(), (tmp.path + "/moved.sock").c_str()) == 0);
  REQUIRE(::symlink(other.c_str(), shim.c_str()) == 0);
  CHECK(ConnectTo(pinned->connect_path()) == 0);
  CHECK(listener.HasPending());
  CHECK_FALSE(elsewhere.HasPending());
}

TEST_CASE("core: anything but a socket in the last component is refused, naming it", "[core]") {
  TempDir tmp;
  Listener engine(tmp.path + "/docker.sock");  // stands in for /var/run/docker.sock

  std::string link = tmp.path + "/shim.sock";
  REQUIRE(::symlink((tmp.path + "/docker.sock").c_str(), link.c_str()) == 0);
  auto via_link = PinnedSocket::Open(link);
  REQUIRE_FALSE(via_link.ok());
  CHECK(via_link.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(via_link.error().message(), Catch::Contains(link) && Catch::Contains("symlink"));
  CHECK_FALSE(engine.HasPending());

  std::string file = tmp.path + "/file.sock";
  std::ofstream(file) << "x";
  auto regular = PinnedSocket::Open(file);
  REQUIRE_FALSE(regular.ok());
  CHECK_THAT(regular.error().message(), Catch::Contains("regular file"));

  std::string fifo = tmp.path + "/fifo.sock";
  REQUIRE(::mkfifo(fifo.c_str(), 0666) == 0);
  auto pipe = PinnedSocket::Open(fifo);  // must not block waiting for a writer
  REQUIRE_FALSE(pipe.ok());
  CHECK_THAT(pipe.error().message(), Catch::Contains("FIFO"));

  auto missing = PinnedSocket::Open(tmp.path + "/none.sock");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);

  auto too_long = PinnedSocket::Open("/" + std::string(200, 'x'));
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::core
