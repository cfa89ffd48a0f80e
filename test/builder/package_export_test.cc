// ExportPackage against the in-memory engine: the image's /var/task and /opt/gantry/deps
// land in dest/task and dest/deps, an existing export is reused, entries that would leave
// the tree are refused, and the short-lived container is removed whatever happens.
#include "builder/package_export.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/fake_docker_client.h"

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string path;
  std::string content;  // a file's bytes, or a symlink's target
  mode_t type = AE_IFREG;
  int mode = 0644;
};

// A tar archive as the engine's GET /containers/{id}/archive sends it.
std::string Tar(const std::vector<Entry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* data, const void* buffer, size_t n) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buffer), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, static_cast<mode_t>(e.mode));
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.content.c_str());
    if (e.type == AE_IFREG)
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    if (e.type == AE_IFREG) archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Scratch {
  Scratch() : dir(fs::temp_directory_path() / ("package-export-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
};

TEST_CASE("package export: task and deps land on the host, the container goes", "[export]") {
  testing::FakeDockerClient docker;
  Scratch scratch;
  docker.SetArchive("fn:1", "/var/task",
                    Tar({{.path = "task/", .type = AE_IFDIR, .mode = 0755},
                         {.path = "task/handler.py", .content = "def main(r): pass\n"},
                         {.path = "task/run.sh", .content = "#!/bin/sh\n", .mode = 04755},
                         {.path = "task/link", .content = "handler.py", .type = AE_IFLNK}}));
  docker.SetArchive("fn:1", "/opt/gantry/deps",
                    Tar({{.path = "deps/python/dep.py", .content = "X = 1\n"}}));
  std::string dest = (scratch.dir / "abc").string();
  auto dir = ExportPackage(docker, "fn:1", dest, {{"gantry.test", "x"}});
  REQUIRE(dir.ok());
  CHECK(*dir == dest);
  CHECK(Read(dest + "/task/handler.py") == "def main(r): pass\n");
  CHECK(Read(dest + "/deps/python/dep.py") == "X = 1\n");
  CHECK(fs::is_symlink(dest + "/task/link"));
  struct stat st {};
  REQUIRE(::stat((dest + "/task/run.sh").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);  // no setuid
  CHECK(docker.containers().empty());
  CHECK(docker.CountCalls("CreateContainer") == 1);

  // Done once: the same directory is reused without asking the engine.
  auto again = ExportPackage(docker, "fn:1", dest, {});
  REQUIRE(again.ok());
  CHECK(docker.CountCalls("CreateContainer") == 1);
}

TEST_CASE("package export: an image without dependencies gets an empty deps", "[export]") {
  testing::FakeDockerClient docker;
  Scratch scratch;
  docker.SetArchive("fn:2", "/var/task", Tar({{.path = "task/h.py", .content = "x"}}));
  std::string dest = (scratch.dir / "def").string();
  REQUIRE(ExportPackage(docker, "fn:2", dest, {}).ok());
  CHECK(fs::is_directory(dest + "/deps"));
  CHECK(fs::is_empty(dest + "/deps"));
}

TEST_CASE("package export: entries leaving the tree are refused, nothing is left", "[export]") {
  testing::FakeDockerClient docker;
  Scratch scratch;
  std::vector<Entry> bad;
  SECTION("..") {
    bad = {{.path = "task/../../escape", .content = "x"}};
  }
  SECTION("absolute") {
    bad = {{.path = "/etc/escape", .content = "x"}};
  }
  SECTION("a symlink out") {
    bad = {{.path = "task/l", .content = "/etc", .type = AE_IFLNK}};
  }
  SECTION("a relative symlink out") {
    bad = {{.path = "task/l", .content = "../../etc", .type = AE_IFLNK}};
  }
  SECTION("a device node") {
    bad = {{.path = "task/null", .type = AE_IFCHR}};
  }
  docker.SetArchive("fn:3", "/var/task", Tar(bad));
  std::string dest = (scratch.dir / "bad").string();
  auto dir = ExportPackage(docker, "fn:3", dest, {});
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_FALSE(fs::exists(dest));
  CHECK(docker.containers().empty());
  int left = 0;
  for (const auto& e : fs::directory_iterator(scratch.dir)) left += e.exists() ? 1 : 0;
  CHECK(left == 0);  // the temporary directory went too
  CHECK_FALSE(fs::exists(scratch.dir.parent_path() / "escape"));
}

}  // namespace
}  // namespace gantry::builder
