#include "support/examples.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::testing {

spec::FunctionSpec LoadFunctionInto(const std::string& ns, const std::filesystem::path& manifest) {
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = std::regex_replace(text.str(), std::regex("\nmetadata:\n"),
                                        "\nmetadata:\n  namespace: " + ns + "\n");
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifestText(local, yaml, manifest.string(),
                                           manifest.parent_path().string(), {});
  for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
  REQUIRE(loaded.objects.size() == 1);
  auto spec = std::get<spec::FunctionSpec>(loaded.objects[0].object);
  REQUIRE(spec.namespace_name() == ns);
  return spec;
}

spec::FunctionSpec LoadExampleInto(const std::string& ns, const std::string& name) {
  return LoadFunctionInto(
      ns, std::filesystem::path(GANTRY_SOURCE_DIR) / "examples" / name / "gantry.yaml");
}

}  // namespace gantry::testing
