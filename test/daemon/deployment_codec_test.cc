#include "daemon/deployment_codec.h"

#include <catch2/catch.hpp>

#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::daemon {
namespace {

spec::FunctionSpec ExecSpec(const std::string& network_line) {
  std::string yaml =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: fetch\nspec:\n"
      "  runtime: exec\n  command: [\"cat\"]\n" +
      network_line;
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(local, yaml, "fetch.yaml", "/nonexistent", {});
  for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
  REQUIRE(loaded.objects.size() == 1);
  return std::get<spec::FunctionSpec>(loaded.objects[0].object);
}

TEST_CASE("deployment: spec.network reaches the pool and survives a restart", "[daemon]") {
  builder::BuiltImage image{.ref = "gantry/fn-default-fetch:1", .id = "sha256:1"};
  struct Case {
    std::string line;
    pool::NetworkAccess want;
  };
  for (const Case& c : std::vector<Case>{{"", pool::NetworkAccess::kDefault},
                                         {"  network: default\n", pool::NetworkAccess::kDefault},
                                         {"  network: none\n", pool::NetworkAccess::kNone}}) {
    INFO(c.line);
    pool::Deployment d = DeploymentFor(ExecSpec(c.line), image, 3, {});
    CHECK(d.network == c.want);
    auto back = DeploymentFromJson(DeploymentToJson(d));
    REQUIRE(back.ok());
    CHECK(back->network == c.want);
  }
}

TEST_CASE("deployment: one stored before networks existed gets the default network", "[daemon]") {
  builder::BuiltImage image{.ref = "gantry/fn-default-fetch:1", .id = "sha256:1"};
  pool::Deployment d = DeploymentFor(ExecSpec("  network: none\n"), image, 3, {});
  nlohmann::json j = DeploymentToJson(d);
  j.erase("network");
  auto back = DeploymentFromJson(j);
  REQUIRE(back.ok());
  CHECK(back->network == pool::NetworkAccess::kDefault);

  j["network"] = "host";
  auto bad = DeploymentFromJson(j);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == core::ErrorCode::kInternal);
}

TEST_CASE("deployment: the image's container env (the handler) is in it, the spec's env wins",
          "[daemon]") {
  builder::BuiltImage image{
      .ref = "gantry/fn:1", .id = "sha256:1", .env = {{"_HANDLER", "h.main"}, {"A", "image"}}};
  spec::FunctionSpec spec = ExecSpec("  env: {A: spec}\n");
  pool::Deployment d = DeploymentFor(spec, image, 1, {});
  CHECK(d.env == std::map<std::string, std::string>{{"A", "spec"}, {"_HANDLER", "h.main"}});
  auto back = DeploymentFromJson(DeploymentToJson(d));
  REQUIRE(back.ok());
  CHECK(back->env == d.env);  // a restart keeps it
}

}  // namespace
}  // namespace gantry::daemon
