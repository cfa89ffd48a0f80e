#pragma once

#include <string>

#include "core/result.h"

namespace gantry::core {

// A unix socket file, pinned without following symlinks, to connect to by a path that can
// no longer be swapped: connect() to connect_path() ("/proc/self/fd/N", a magic link to the
// pinned inode) reaches exactly the socket that was checked, whatever happens to `path`
// afterwards. This is how gantryd connects to a replica's shim: the socket directory is
// writable by the function, which must never make gantryd (root) connect to anything else
// (a symlink to /var/run/docker.sock, a FIFO, a regular file). Move-only; owns one O_PATH
// descriptor, closed on destruction. Not thread-safe (one per connect).
class PinnedSocket {
 public:
  // Opens `path` with O_PATH|O_NOFOLLOW and checks it is a socket. Errors: kNotFound (no
  // such file: the shim is not up yet), kInvalidArgument (a symlink, or anything but a
  // socket, naming the path and what it is; also a path too long for sun_path),
  // kInternal (other open/fstat failures).
  static Result<PinnedSocket> Open(const std::string& path);

  PinnedSocket(PinnedSocket&& other) noexcept;
  PinnedSocket& operator=(PinnedSocket&& other) noexcept;
  PinnedSocket(const PinnedSocket&) = delete;
  PinnedSocket& operator=(const PinnedSocket&) = delete;
  ~PinnedSocket();

  // "/proc/self/fd/N": valid while this object lives; give it to connect() as sun_path.
  const std::string& connect_path() const { return connect_path_; }

 private:
  explicit PinnedSocket(int fd);

  int fd_ = -1;
  std::string connect_path_;
};

}  // namespace gantry::core
