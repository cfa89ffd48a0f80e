#include "pool/replica_files.h"

#include <catch2/catch.hpp>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char dir[] = "/tmp/gantry-pool-files.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    path = dir;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

TEST_CASE("pool: a replica's directory has a world-writable socket dir and owner-only secrets", "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path, "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {{"api-key", "k3y\n"}}, 65534).ok());
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
  REQUIRE(CreateReplicaFiles(paths, {}, 65534).ok());
  CHECK_FALSE(fs::exists(paths.SecretPath("api-key")));
  RemoveReplicaFiles(paths);
  CHECK_FALSE(fs::exists(paths.dir));
  RemoveReplicaFiles(paths);  // twice is fine
}

TEST_CASE("pool: a missing run dir is created with the first replica's directory", "[pool]") {
  TempDir tmp;
  ReplicaPaths paths = PathsFor(tmp.path + "/not/yet", "r0123456789");
  REQUIRE(CreateReplicaFiles(paths, {}, 65534).ok());
  CHECK(fs::is_directory(paths.socket_dir));
}

}  // namespace
}  // namespace gantry::pool
