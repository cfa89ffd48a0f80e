#include "pool/readiness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "core/unix_socket.h"

namespace gantry::pool {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

// A non-blocking connect bounded by `deadline`; -1 when it does not succeed.
int Connect(const Endpoint& endpoint, Clock::time_point deadline) {
  int fd = -1;
  int rc = -1;
  std::optional<core::PinnedSocket> pinned;
  if (!endpoint.unix_socket.empty()) {
    // The socket directory is the function's to write: connect only to the socket found
    // there, never through a symlink it may have put in its place.
    auto opened = core::PinnedSocket::Open(endpoint.unix_socket);
    if (!opened) return -1;
    pinned.emplace(std::move(*opened));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string& path = pinned->connect_path();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(endpoint.port));
    if (::inet_pton(AF_INET, endpoint.host.c_str(), &addr.sin_addr) != 1) return -1;
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    ::close(fd);
    return -1;
  }
  if (rc != 0) {
    int error = 0;
    socklen_t len = sizeof(error);
    if (!WaitFor(fd, POLLOUT, deadline) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 ||
        error != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

}  // namespace

int ProbeOnce(const Endpoint& endpoint, const char* target, milliseconds limit) {
  Clock::time_point deadline = Clock::now() + limit;
  int fd = Connect(endpoint, deadline);
  if (fd < 0) return 0;
  std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: gantryd\r\n\r\n", target);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLOUT, deadline)) break;
    } else {
      break;
    }
  }
  std::string head;
  char buffer[512];
  while (sent == request.size() && head.find("\r\n") == std::string::npos && head.size() < 4096) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      head.append(buffer, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLIN, deadline)) break;
    } else {
      break;
    }
  }
  ::close(fd);
  // "HTTP/1.x NNN ..."
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return 0;
  size_t space = head.find(' ');
  if (space == std::string::npos || space + 4 > head.size()) return 0;
  int status = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    if (head[i] < '0' || head[i] > '9') return 0;
    status = status * 10 + (head[i] - '0');
  }
  return status;
}

core::Status HttpReadinessProbe::WaitReady(const Endpoint& endpoint, milliseconds limit,
                                           const std::function<bool()>& give_up) {
  const bool shim = !endpoint.unix_socket.empty();
  Clock::time_point deadline = Clock::now() + limit;
  int last = 0;
  for (;;) {
    if (give_up && give_up()) return core::Error::Cancelled("readiness check abandoned");
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    last = ProbeOnce(endpoint, shim ? "/_/ready" : "/", std::min(left, milliseconds(2000)));
    if (shim ? last == 200 : last > 0) return core::Ok();
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::string where = shim ? endpoint.unix_socket : fmt::format("{}:{}", endpoint.host, endpoint.port);
  return core::Error::Timeout(last == 0 ? fmt::format("{} did not answer within {} ms", where, limit.count())
                                        : fmt::format("{} still answered {} to GET /_/ready after {} ms", where,
                                                      last, limit.count()));
}

}  // namespace gantry::pool
