#include "builder/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "builder/build_context.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

spec::FunctionSpec Load(const std::string& path) {
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifests(local, {path}, {});
  for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
  REQUIRE(loaded.objects.size() == 1);
  return std::get<spec::FunctionSpec>(loaded.objects[0].object);
}

struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("gantry-bundle-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  static inline int n = 0;
};

TEST_CASE("every example survives bundling: same bytes when bundled again", "[builder][bundle]") {
  for (const char* example :
       {"hello-python", "hello-node", "echo", "wordcount", "custom-dockerfile", "csv-aggregate"}) {
    INFO(example);
    spec::FunctionSpec original =
        Load(std::string(GANTRY_SOURCE_DIR) + "/examples/" + example + "/gantry.yaml");
    auto bundle = MakeBundle(original);
    REQUIRE(bundle.ok());
    TempDir dir;
    REQUIRE(ExtractBundle(*bundle, dir.path.string()).ok());
    spec::FunctionSpec back = Load((dir.path / "function.json").string());

    // Bundling what was extracted gives the same bytes: the bundle is location-independent
    // and deterministic, so its digest names the deployment.
    auto again = MakeBundle(back);
    REQUIRE(again.ok());
    CHECK(*again == *bundle);
    CHECK(BundleDigest(*again) == BundleDigest(*bundle));
    CHECK_THAT(BundleDigest(*bundle), Catch::StartsWith("sha256:"));
    if (!original.source_path().empty())
      CHECK(back.source_path() == (dir.path / "source").string());
  }
}

// function.json, and a symlink `path` -> `target`, written by hand.
std::string TarWithLink(const std::string& path, const std::string& target) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* user, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "function.json");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 2);
  archive_write_header(a, e);
  archive_write_data(a, "{}", 2);
  archive_entry_clear(e);
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_perm(e, 0777);
  archive_entry_set_symlink(e, target.c_str());
  archive_write_header(a, e);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A vendored node_modules: .bin holds relative links to the packages' scripts, and a
// package may link to another.
void VendoredTree(const fs::path& src) {
  fs::create_directories(src / "node_modules/.bin");
  fs::create_directories(src / "node_modules/tool/bin");
  std::ofstream(src / "node_modules/tool/bin/tool.js") << "#!/usr/bin/env node\n";
  std::ofstream(src / "node_modules/tool/package.json") << "{\"name\": \"tool\"}";
  std::ofstream(src / "handler.js") << "exports.main = () => 'hi';\n";
  fs::create_symlink("../tool/bin/tool.js", src / "node_modules/.bin/tool");
  fs::create_directory_symlink("tool", src / "node_modules/tool-alias");
}

TEST_CASE("symlinks inside the source stay links through bundling and extraction",
          "[builder][bundle]") {
  TempDir project;
  VendoredTree(project.path / "src");
  std::ofstream(project.path / "f.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: v}\n"
         "spec: {runtime: node, handler: handler.main, source: ./src}\n";
  auto bundle = MakeBundle(Load((project.path / "f.yaml").string()));
  REQUIRE(bundle.ok());
  TempDir out;
  auto extracted = ExtractBundle(*bundle, out.path.string());
  REQUIRE(extracted.ok());
  fs::path bin = out.path / "source/node_modules/.bin/tool";
  REQUIRE(fs::is_symlink(bin));
  CHECK(fs::read_symlink(bin) == "../tool/bin/tool.js");
  CHECK(fs::is_regular_file(bin));  // and it resolves, inside the extracted tree
  CHECK(fs::is_symlink(out.path / "source/node_modules/tool-alias"));
  // Extracted again from the extracted tree (what the server bundles into the build): same.
  auto again = MakeBundle(Load((out.path / "function.json").string()));
  REQUIRE(again.ok());
  CHECK(BundleDigest(*again) == BundleDigest(*bundle));
}

TEST_CASE("a symlink that leads out of the source is an error naming it, never followed",
          "[builder][bundle]") {
  TempDir project;
  std::ofstream(project.path / "host-secret") << "HOST FILE";
  fs::create_directories(project.path / "src/lib");
  std::ofstream(project.path / "src/handler.py") << "";
  std::ofstream(project.path / "f.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: v}\n"
         "spec: {runtime: python3, handler: handler.main, source: ./src}\n";
  for (std::string target : std::vector<std::string>{
           "../../host-secret", (project.path / "host-secret").string(), "../../../../.."}) {
    fs::remove(project.path / "src/lib/link");
    fs::create_symlink(target, project.path / "src/lib/link");
    auto bundle = MakeBundle(Load((project.path / "f.yaml").string()));
    REQUIRE_FALSE(bundle.ok());
    CHECK(bundle.error().code() == core::ErrorCode::kInvalidArgument);
    CHECK_THAT(bundle.error().message(), Catch::Contains("lib/link") && Catch::Contains(target) &&
                                             Catch::Contains("outside the source tree"));
  }

  // A hand-made bundle with such a link (a client other than ours) is refused by the server.
  for (std::string target : {"/etc/passwd", "../../x", "../../function.json"}) {
    TempDir out;
    auto extracted = ExtractBundle(TarWithLink("source/lib/link", target), out.path.string());
    REQUIRE_FALSE(extracted.ok());
    CHECK_THAT(extracted.error().message(),
               Catch::Contains("source/lib/link") && Catch::Contains(target));
    CHECK_FALSE(fs::is_symlink(fs::symlink_status(out.path / "source/lib/link")));
  }
}

TEST_CASE("bundles travel gzip-compressed, the server unpacks them only as far as its bound",
          "[builder][bundle]") {
  BuildContext c;
  c.AddFile("function.json", "{}");
  c.AddFile("source/blob", std::string(std::size_t{1} << 20, 'x'));
  std::string tar = *c.Tar();
  auto gz = CompressBundle(tar);
  REQUIRE(gz.ok());
  CHECK(gz->size() < tar.size() / 50);
  CHECK(*CompressBundle(tar) == *gz);  // deterministic: no timestamp
  auto back = UncompressBundle(*gz, tar.size());
  REQUIRE(back.ok());
  CHECK_FALSE(back->truncated);
  CHECK(back->tar == tar);
  auto bounded = UncompressBundle(*gz, tar.size() - 1);
  REQUIRE(bounded.ok());
  CHECK(bounded->truncated);
  CHECK(bounded->tar.size() <= tar.size() - 1);
  // A plain tar passes through; broken gzip is an error.
  CHECK(UncompressBundle(tar, 10)->tar == tar);
  std::string broken = gz->substr(0, 20) + std::string(40, '\0');
  CHECK_FALSE(UncompressBundle(broken, tar.size()).ok());
}

TEST_CASE("unsafe or incomplete bundles are refused", "[builder][bundle]") {
  TempDir dir;
  BuildContext evil;
  evil.AddFile("function.json", "{}");
  evil.AddFile("../escape.txt", "x");
  auto r = ExtractBundle(*evil.Tar(), dir.path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_FALSE(fs::exists(dir.path.parent_path() / "escape.txt"));

  TempDir dir2;
  BuildContext no_manifest;
  no_manifest.AddFile("source/a.py", "x");
  auto missing = ExtractBundle(*no_manifest.Tar(), dir2.path.string());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message(), Catch::Contains("no function.json"));

  TempDir dir3;
  CHECK_FALSE(ExtractBundle("this is not a tar archive at all", dir3.path.string()).ok());
}

}  // namespace
}  // namespace gantry::builder
