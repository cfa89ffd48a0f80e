#include <catch2/catch.hpp>

#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::manifest {
namespace {

constexpr const char* kNoNamespace =
    "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  runtime: exec\n  "
    "command: [cat]\n";
constexpr const char* kTeamNamespace =
    "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: echo\n  namespace: "
    "team\nspec:\n  runtime: exec\n"
    "  command: [cat]\n";

TEST_CASE("-n fills in a missing namespace and refuses a different one", "[manifest]") {
  MemoryFileSystem fs;
  auto plain = LoadManifestText(fs, kNoNamespace, "echo.yaml", "/", {});
  REQUIRE(plain.ok());
  CHECK(std::get<spec::FunctionSpec>(plain.objects[0].object).namespace_name() == "default");

  auto filled =
      LoadManifestText(fs, kNoNamespace, "echo.yaml", "/", {.default_namespace = "staging"});
  REQUIRE(filled.ok());
  CHECK(std::get<spec::FunctionSpec>(filled.objects[0].object).namespace_name() == "staging");

  auto same = LoadManifestText(fs, kTeamNamespace, "echo.yaml", "/", {.default_namespace = "team"});
  CHECK(same.ok());

  auto other =
      LoadManifestText(fs, kTeamNamespace, "echo.yaml", "/", {.default_namespace = "staging"});
  REQUIRE_FALSE(other.ok());
  CHECK(other.objects.empty());
  REQUIRE(other.errors.size() == 1);
  CHECK(other.errors[0].ToString() ==
        "echo.yaml:5:14: metadata.namespace: is \"team\", but -n asks for \"staging\"");
}

}  // namespace
}  // namespace gantry::manifest
