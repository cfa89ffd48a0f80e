#include "builder/build_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

struct TarEntryInfo {
  std::string content;
  int mode = 0;
  int64_t mtime = -1;
  int64_t uid = -1;
  bool dir = false;
};

// Reads a tar stream back: path -> what the entry says.
std::map<std::string, TarEntryInfo> ReadTar(const std::string& tar) {
  std::map<std::string, TarEntryInfo> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_memory(a, tar.data(), tar.size()) == ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarEntryInfo info;
    info.mode = static_cast<int>(archive_entry_perm(e));
    info.mtime = archive_entry_mtime(e);
    info.uid = archive_entry_uid(e);
    info.dir = archive_entry_filetype(e) == AE_IFDIR;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
      info.content.append(buf, static_cast<std::size_t>(n));
    std::string path = archive_entry_pathname(e);
    if (!path.empty() && path.back() == '/') path.pop_back();  // directories
    out[path] = info;
  }
  archive_read_free(a);
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("gantry-ctx-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& rel, const std::string& content, bool exec = false) const {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << content;
    fs::permissions(path_ / rel, exec ? fs::perms(0755) : fs::perms(0600));
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string TarOf(const TempDir& dir, std::string_view prefix = "") {
  BuildContext ctx;
  REQUIRE(ctx.AddDirectory(dir.path().string(), prefix, ReadIgnoreFiles(dir.path().string())).ok());
  auto tar = ctx.Tar();
  REQUIRE(tar.ok());
  return *tar;
}

TEST_CASE("identical trees give identical context bytes", "[builder][context]") {
  TempDir a, b;
  // Same content, created in a different order, with different permissions on disk and
  // different mtimes.
  a.Write("src/main.py", "print(1)\n");
  a.Write("run.sh", "#!/bin/sh\n", true);
  a.Write("data/z.txt", "z");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  b.Write("data/z.txt", "z");
  b.Write("run.sh", "#!/bin/sh\n", true);
  b.Write("src/main.py", "print(1)\n");
  fs::permissions(b.path() / "data/z.txt", fs::perms(0644));
  CHECK(TarOf(a) == TarOf(b));

  // A changed byte changes the bytes.
  b.Write("data/z.txt", "y");
  CHECK(TarOf(a) != TarOf(b));
}

TEST_CASE("entries are normalised: mode, owner, mtime, parents", "[builder][context]") {
  TempDir d;
  d.Write("bin/tool", "x", true);
  d.Write("lib/deep/mod.js", "y");
  auto entries = ReadTar(TarOf(d, "function"));
  REQUIRE(entries.count("function/bin/tool") == 1);
  CHECK(entries["function/bin/tool"].mode == 0755);
  CHECK(entries["function/lib/deep/mod.js"].mode == 0644);
  CHECK(entries["function/lib/deep/mod.js"].content == "y");
  CHECK(entries["function/lib/deep/mod.js"].mtime == 0);
  CHECK(entries["function/lib/deep/mod.js"].uid == 0);
  REQUIRE(entries.count("function/lib/deep") == 1);
  CHECK(entries["function/lib/deep"].dir);
  REQUIRE(entries.count("function") == 1);  // implied parent
}

TEST_CASE("ignored files are absent from the context", "[builder][context]") {
  TempDir d;
  d.Write("handler.py", "ok");
  d.Write("sample.csv", "a,b");
  d.Write("node_modules/x/index.js", "big");
  d.Write("notes/keep.md", "keep");
  d.Write("notes/drop.md", "drop");
  d.Write(".gantryignore", "*.csv\nnode_modules\nnotes\n!notes/keep.md\n");
  d.Write(".dockerignore", "handler.py\n");
  auto entries = ReadTar(TarOf(d));
  CHECK(entries.count("sample.csv") == 0);
  CHECK(entries.count("node_modules/x/index.js") == 0);
  CHECK(entries.count("notes/drop.md") == 0);
  CHECK(entries.count("notes/keep.md") == 1);
  CHECK(entries.count("handler.py") == 0);
  CHECK(entries.count(".gantryignore") == 0);  // Gantry's own file stays out
  CHECK(entries.count(".dockerignore") == 1);  // Docker reads it from the context
}

TEST_CASE("generated files replace same-named ones and a missing directory is an error",
          "[builder][context]") {
  BuildContext ctx;
  ctx.AddFile("Dockerfile", "FROM a\n");
  ctx.AddFile("Dockerfile", "FROM b\n");
  auto entries = ReadTar(*ctx.Tar());
  CHECK(entries["Dockerfile"].content == "FROM b\n");
  auto missing = ctx.AddDirectory("/nonexistent/gantry/src", "", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == core::ErrorCode::kNotFound);
  CHECK_FALSE(ctx.AddHostFile("/nonexistent/file", "x", false).ok());
}

}  // namespace
}  // namespace gantry::builder
