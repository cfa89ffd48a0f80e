#include "pool/replica_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;

core::Error Errno(const std::string& what, const std::string& path) {
  return core::Error::Internal(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Writes `value` to a new file `path` (mode 0400, owned by `uid`); fails when something
// is already there.
core::Status WriteNewFile(const std::string& path, const std::string& value, int uid) {
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
  // A negative uid: the function's user is unknown, so the file is readable by any.
  if (uid < 0 || ::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
    ::fchmod(fd, 0444);
  }
  if (::close(fd) != 0) return Errno("close secret", path);
  return core::Ok();
}

// The mount points at or below `dir`, deepest first, as /proc/self/mountinfo lists them
// (field 5, with space, tab, newline and backslash octal-escaped).
std::vector<std::string> MountsBelow(const std::string& dir) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (!(fields >> id >> parent >> device >> root >> point)) continue;
    std::string decoded;
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        int value = 0;
        for (size_t k = i + 1; k <= i + 3; ++k) value = value * 8 + (point[k] - '0');
        decoded += static_cast<char>(value);
        i += 3;
      } else {
        decoded += point[i];
      }
    }
    if (decoded == dir || decoded.starts_with(dir + "/")) found.push_back(decoded);
  }
  std::sort(found.begin(), found.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return found;
}

core::Status MountSocketDir(const std::string& dir, int64_t bytes) {
  // nosuid/nodev/noexec: the function may only put its socket (and a few bytes) here.
  std::string options = fmt::format("size={},nr_inodes=16,mode=0777", bytes);
  if (::mount("gantry-sock", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              options.c_str()) != 0) {
    int error = errno;
    std::string hint = error == EPERM ? " (bounding a replica's socket directory needs root; "
                                        "a socket directory size of 0 turns the bound off)"
                                      : "";
    return core::Error::Internal(
        fmt::format("mount a {}-byte tmpfs on {}: {}{}", bytes, dir, std::strerror(error), hint));
  }
  return core::Ok();
}

}  // namespace

void UnmountAllBelow(const std::string& dir) {
  if (dir.empty()) return;
  std::string clean = fs::path(dir).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  for (const std::string& point : MountsBelow(clean)) {
    // Stacked mounts on one point come off one at a time; MNT_DETACH because a container
    // may still hold its own (bind) reference while it is being removed.
    for (int i = 0; i < 16 && ::umount2(point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0; ++i) {
    }
  }
}

core::Status CreateReplicaFiles(const ReplicaPaths& paths,
                                const std::map<std::string, std::string>& secrets, int uid,
                                int64_t socket_dir_bytes) {
  std::error_code ec;
  UnmountAllBelow(paths.dir);
  fs::remove_all(paths.dir, ec);
  // The run dir itself may not exist yet (first replica, or removed by hand meanwhile).
  fs::create_directories(fs::path(paths.dir).parent_path(), ec);
  if (ec) {
    return core::Error::Internal(
        fmt::format("create {}: {}", fs::path(paths.dir).parent_path().string(), ec.message()));
  }
  for (const std::string* dir : {&paths.dir, &paths.socket_dir, &paths.secrets_dir}) {
    if (::mkdir(dir->c_str(), 0755) != 0 && errno != EEXIST) return Errno("create", *dir);
  }
  if (socket_dir_bytes > 0) {
    if (auto s = MountSocketDir(paths.socket_dir, socket_dir_bytes); !s) {
      fs::remove_all(paths.dir, ec);
      return s;
    }
  }
  // mkdir applies the umask; the socket directory must be writable by the function's user.
  if (::chmod(paths.socket_dir.c_str(), 0777) != 0) return Errno("chmod", paths.socket_dir);
  for (const auto& [name, value] : secrets) {
    if (auto s = WriteNewFile(paths.SecretPath(name), value, uid); !s) return s;
  }
  return core::Ok();
}

core::Status ReplaceSecretFile(const ReplicaPaths& paths, const std::string& name,
                               const std::string& value, int uid) {
  struct stat st {};
  // Never a link or a file where the directory should be: only gantryd writes here, but
  // the check is cheap and the directory is on a shared disk.
  if (::lstat(paths.secrets_dir.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return core::Error::NotFound(fmt::format("no secrets directory {}", paths.secrets_dir));
    return Errno("stat", paths.secrets_dir);
  }
  if (!S_ISDIR(st.st_mode))
    return core::Error::Internal(fmt::format("{} is not a directory", paths.secrets_dir));
  // Secret names never start with a dot, so the temporary name can't be a secret's.
  std::string temp = fmt::format("{}/.{}.new", paths.secrets_dir, name);
  ::unlink(temp.c_str());
  if (auto s = WriteNewFile(temp, value, uid); !s) {
    ::unlink(temp.c_str());
    return s;
  }
  // rename(2) swaps the directory entry in one step: a reader opens the old file or the new
  // one, never a half-written one, and the next open sees the new value.
  std::string target = paths.SecretPath(name);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    core::Error error = Errno("rename secret to", target);
    ::unlink(temp.c_str());
    return error;
  }
  return core::Ok();
}

void RemoveReplicaFiles(const ReplicaPaths& paths) {
  UnmountAllBelow(paths.dir);
  std::error_code ec;
  fs::remove_all(paths.dir, ec);
}

}  // namespace gantry::pool
