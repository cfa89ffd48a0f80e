#include "pool/replica_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;

core::Error Errno(const std::string& what, const std::string& path) {
  return core::Error::Internal(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

core::Status WriteSecret(const std::string& path, const std::string& value, int uid) {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
  if (fd < 0) return Errno("create secret", path);
  size_t written = 0;
  while (written < value.size()) {
    ssize_t n = ::write(fd, value.data() + written, value.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      core::Error error = Errno("write secret", path);
      ::close(fd);
      return error;
    }
    written += static_cast<size_t>(n);
  }
  // The function runs as `uid`; without the right to chown (gantryd not root) the file
  // can only be made readable to everyone, which the read-only mount then confines.
  if (::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) ::fchmod(fd, 0444);
  if (::close(fd) != 0) return Errno("close secret", path);
  return core::Ok();
}

}  // namespace

core::Status CreateReplicaFiles(const ReplicaPaths& paths, const std::map<std::string, std::string>& secrets,
                                int uid) {
  std::error_code ec;
  fs::remove_all(paths.dir, ec);
  // The run dir itself may not exist yet (first replica, or removed by hand meanwhile).
  fs::create_directories(fs::path(paths.dir).parent_path(), ec);
  if (ec) return core::Error::Internal(fmt::format("create {}: {}", fs::path(paths.dir).parent_path().string(), ec.message()));
  for (const std::string* dir : {&paths.dir, &paths.socket_dir, &paths.secrets_dir}) {
    if (::mkdir(dir->c_str(), 0755) != 0 && errno != EEXIST) return Errno("create", *dir);
  }
  // mkdir applies the umask; the socket directory must be writable by the function's user.
  if (::chmod(paths.socket_dir.c_str(), 0777) != 0) return Errno("chmod", paths.socket_dir);
  for (const auto& [name, value] : secrets) {
    if (auto s = WriteSecret(paths.SecretPath(name), value, uid); !s) return s;
  }
  return core::Ok();
}

void RemoveReplicaFiles(const ReplicaPaths& paths) {
  std::error_code ec;
  fs::remove_all(paths.dir, ec);
}

}  // namespace gantry::pool
