#include "core/unix_socket.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gantry::core {
namespace {

const char* KindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a socket";
}

}  // namespace

Result<PinnedSocket> PinnedSocket::Open(const std::string& path) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Error::InvalidArgument(
        fmt::format("unix socket path \"{}\" is empty or too long", path));
  }
  // O_PATH opens nothing (no FIFO blocks, no device opens); O_NOFOLLOW makes a symlink in
  // the last component come back as the link itself, which fstat then reports.
  int fd = ::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Error::NotFound(fmt::format("{}: no such socket", path));
    return Error::Internal(fmt::format("open {}: {}", path, std::strerror(errno)));
  }
  PinnedSocket pinned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return Error::Internal(fmt::format("stat {}: {}", path, std::strerror(errno)));
  if (!S_ISSOCK(st.st_mode)) {
    return Error::InvalidArgument(
        fmt::format("{} is {}, not a unix socket: refusing to connect", path, KindOf(st.st_mode)));
  }
  return pinned;
}

PinnedSocket::PinnedSocket(int fd) : fd_(fd), connect_path_(fmt::format("/proc/self/fd/{}", fd)) {}

PinnedSocket::PinnedSocket(PinnedSocket&& other) noexcept
    : fd_(other.fd_), connect_path_(std::move(other.connect_path_)) {
  other.fd_ = -1;
}

PinnedSocket& PinnedSocket::operator=(PinnedSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    connect_path_ = std::move(other.connect_path_);
    other.fd_ = -1;
  }
  return *this;
}

PinnedSocket::~PinnedSocket() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gantry::core
