// The instance id kept in the state directory: made once, 0600, kept, never replaced.
#include "daemon/instance_id.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;

using TempDir = testing::TempDir;

TEST_CASE("instance id: created on first start with mode 0600, the same ever after", "[daemon]") {
  TempDir dir;
  std::string file = (fs::path(dir.path) / "state" / "instance-id").string();
  auto first = LoadOrCreateInstanceId(file);
  REQUIRE(first.ok());
  CHECK(IsInstanceId(*first));
  CHECK(first->size() == 16);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = LoadOrCreateInstanceId(file);
  REQUIRE(again.ok());
  CHECK(*again == *first);

  TempDir other;
  auto second = LoadOrCreateInstanceId((fs::path(other.path) / "instance-id").string());
  REQUIRE(second.ok());
  CHECK(*second != *first);  // 64 random bits each
}

TEST_CASE("instance id: a file that holds no id is an error, not silently replaced", "[daemon]") {
  TempDir dir;
  std::string file = (fs::path(dir.path) / "instance-id").string();
  for (const char* bad :
       {"", "xyz", "ABCDEF0123456789", "0123", "0123456789abcdef0123456789abcdef0"}) {
    INFO("content '" << bad << "'");
    std::ofstream(file, std::ios::trunc) << bad << "\n";
    auto id = LoadOrCreateInstanceId(file);
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code() == core::ErrorCode::kInternal);
    std::ifstream in(file);
    std::string kept;
    std::getline(in, kept);
    CHECK(kept == bad);
  }
}

}  // namespace
}  // namespace gantry::daemon
