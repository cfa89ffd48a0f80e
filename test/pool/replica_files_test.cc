#include "pool/replica_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "support/temp_dir.h"

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;

using TempDir = testing::TempDir;

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

TEST_CASE("pool: a replica's directory has a world-writable socket dir and owner-only secrets",
          "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {{"api-key", "k3y\n"}}, 65534, 0).ok());
  CHECK((Stat(paths.socket_dir).st_mode & 07777) == 0777);
  struct stat secret = Stat(paths.SecretPath("api-key"));
  if (::geteuid() == 0) {
    CHECK((secret.st_mode & 07777) == 0400);
    CHECK(secret.st_uid == 65534);
  } else {
    CHECK((secret.st_mode & 07777) == 0444);  // could not hand it to the function's user
  }
  std::ifstream in(paths.SecretPath("api-key"));
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "k3y\n");

  // Created again (a replica name reused): old content goes.
  REQUIRE(CreateReplicaFiles(paths, {}, 65534, 0).ok());
  CHECK_FALSE(fs::exists(paths.SecretPath("api-key")));
  RemoveReplicaFiles(paths);
  CHECK_FALSE(fs::exists(paths.dir));
  RemoveReplicaFiles(paths);  // twice is fine
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("pool: a secret file is replaced by a new file, whole, in the same directory", "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {{"api-key", "old"}}, 65534, 0).ok());
  // A reader holding the old file open keeps reading the old value; a new open sees the new
  // one (what a container sees through its mount of the directory).
  std::ifstream held(paths.SecretPath("api-key"));
  ino_t before = Stat(paths.SecretPath("api-key")).st_ino;

  REQUIRE(ReplaceSecretFile(paths, "api-key", "new value\n", 65534).ok());
  CHECK(ReadAll(paths.SecretPath("api-key")) == "new value\n");
  CHECK(Stat(paths.SecretPath("api-key")).st_ino != before);
  std::stringstream old_text;
  old_text << held.rdbuf();
  CHECK(old_text.str() == "old");
  struct stat secret = Stat(paths.SecretPath("api-key"));
  CHECK((secret.st_mode & 07777) == (::geteuid() == 0 ? 0400 : 0444));
  // Nothing left behind but the secret itself.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(paths.secrets_dir))
    names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"api-key"});

  // A secret the replica did not have yet, and one whose replica is gone.
  REQUIRE(ReplaceSecretFile(paths, "other", "x", 65534).ok());
  CHECK(ReadAll(paths.SecretPath("other")) == "x");
  RemoveReplicaFiles(paths);
  auto gone = ReplaceSecretFile(paths, "api-key", "y", 65534);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == core::ErrorCode::kNotFound);
}

TEST_CASE("pool: an image's own user (uid -1) gets secret files readable by any user", "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {{"api-key", "k"}}, -1, 0).ok());
  struct stat secret = Stat(paths.SecretPath("api-key"));
  CHECK((secret.st_mode & 07777) == 0444);
  CHECK(secret.st_uid == ::geteuid());  // not handed to anyone
  REQUIRE(ReplaceSecretFile(paths, "api-key", "new", -1).ok());
  CHECK((Stat(paths.SecretPath("api-key")).st_mode & 07777) == 0444);
  CHECK(ReadAll(paths.SecretPath("api-key")) == "new");
  Deployment d;
  PoolOptions options;
  CHECK(SecretsUid(d, options) == options.secrets_uid);
  d.secrets_for_any_user = true;
  CHECK(SecretsUid(d, options) == -1);
  RemoveReplicaFiles(paths);
}

TEST_CASE("pool: a missing run dir is created with the first replica's directory", "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path + "/not/yet", "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {}, 65534, 0).ok());
  CHECK(fs::is_directory(paths.socket_dir));
}

// How many bytes a writer gets into `path` before the file system says no (at most `limit`).
size_t FillFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::string block(64 << 10, 'x');
  size_t written = 0;
  while (written < limit) {
    ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return written;
}

bool IsMountPoint(const std::string& path) {
  return Stat(path).st_dev != Stat(fs::path(path).parent_path().string()).st_dev;
}

TEST_CASE("pool: the socket directory is a small tmpfs, so a function can't fill the host's disk",
          "[pool]") {
  if (::geteuid() != 0) {
    // Without root the mount is refused, with an error that says why.
    TempDir tmp;
    ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
    auto s = CreateReplicaFiles(paths, {}, 65534, 64 << 10);
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error().message(), Catch::Contains("tmpfs") && Catch::Contains("root"));
    return;
  }
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {{"api-key", "k"}}, 65534, 64 << 10).ok());
  REQUIRE(IsMountPoint(paths.socket_dir));
  CHECK((Stat(paths.socket_dir).st_mode & 07777) == 0777);
  CHECK_FALSE(IsMountPoint(paths.secrets_dir));
  // 16 MiB asked for, 64 KiB given.
  size_t written = FillFile(paths.socket_dir + "/fill", 16 << 20);
  CHECK(written <= (64 << 10));
  // Few inodes too: a function can't make the directory a store of empty files.
  int files = 0;
  for (; files < 1000; ++files) {
    int fd = ::open((paths.socket_dir + "/f" + std::to_string(files)).c_str(),
                    O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) break;
    ::close(fd);
  }
  CHECK(files < 20);

  // Created again (a replica name reused): a fresh, empty mount, not one stacked on the old.
  REQUIRE(CreateReplicaFiles(paths, {}, 65534, 64 << 10).ok());
  CHECK(IsMountPoint(paths.socket_dir));
  CHECK(fs::is_empty(paths.socket_dir));
  RemoveReplicaFiles(paths);
  CHECK_FALSE(fs::exists(paths.dir));
  std::ifstream mounts("/proc/self/mountinfo");
  std::stringstream all;
  all << mounts.rdbuf();
  CHECK_THAT(all.str(), !Catch::Contains(tmp.path));
}

TEST_CASE("pool: UnmountAllBelow takes every mount under a tree off, deepest first", "[pool]") {
  if (::geteuid() != 0) return;
  TempDir tmp;
  ReplicaPaths a = PathsFor(tmp.path, "r0000000001");
  ReplicaPaths b = PathsFor(tmp.path, "r0000000002");
  REQUIRE(CreateReplicaFiles(a, {}, 65534, 64 << 10).ok());
  REQUIRE(CreateReplicaFiles(b, {}, 65534, 64 << 10).ok());
  UnmountAllBelow(tmp.path);
  CHECK_FALSE(IsMountPoint(a.socket_dir));
  CHECK_FALSE(IsMountPoint(b.socket_dir));
  std::error_code ec;
  fs::remove_all(tmp.path, ec);
  CHECK_FALSE(ec);
}

}  // namespace
}  // namespace gantry::pool
