#include "daemon/stem_packages.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/fake_docker_client.h"

namespace gantry::daemon {
namespace {

namespace fs = std::filesystem;

TEST_CASE("stem packages: Prune removes the packages of images gone and crashed exports only",
          "[stem]") {
  fs::path dir = fs::temp_directory_path() / ("gantry-stem-packages-" + std::to_string(getpid()));
  fs::remove_all(dir);
  testing::FakeDockerClient docker;
  docker.ModelImages();
  std::string kept = docker.AddImage({.repo_tags = {"gantry/fn:a"}});
  REQUIRE(kept.starts_with("sha256:"));
  kept = kept.substr(7);
  const std::string gone(64, 'b');
  const std::string mine = gone + ".tmp-" + std::to_string(getpid()) + "-ab";  // exporting now
  const std::string crashed = gone + ".tmp-999999999-cd";  // an earlier process's
  for (const auto& name : {kept, gone, mine, crashed}) {
    fs::create_directories(dir / name / "task");
    std::ofstream(dir / name / "task" / "handler.py") << "x = 1\n";
  }
  StemPackages packages(docker, dir.string(), {});
  CHECK(packages.Prune() == 2);
  CHECK(fs::exists(dir / kept / "task" / "handler.py"));
  CHECK(fs::exists(dir / mine));
  CHECK_FALSE(fs::exists(dir / gone));
  CHECK_FALSE(fs::exists(dir / crashed));
  CHECK(packages.Prune() == 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gantry::daemon
