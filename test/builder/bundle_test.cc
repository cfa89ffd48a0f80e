#include "builder/bundle.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>

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
  fs::path path = fs::temp_directory_path() / ("gantry-bundle-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  static inline int n = 0;
};

TEST_CASE("every example survives bundling: same bytes when bundled again", "[builder][bundle]") {
  for (const char* example : {"hello-python", "hello-node", "echo", "wordcount", "custom-dockerfile", "csv-aggregate"}) {
    INFO(example);
    spec::FunctionSpec original = Load(std::string(GANTRY_SOURCE_DIR) + "/examples/" + example + "/gantry.yaml");
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
    if (!original.source_path().empty()) CHECK(back.source_path() == (dir.path / "source").string());
  }
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
