// Golden-file tests: every manifest under test/testdata/manifests/invalid/ must fail with
// exactly the errors in the .err file beside it, every one under valid/ must yield the
// specs in its .golden.json. GANTRY_UPDATE_GOLDEN=1 rewrites the golden files (then review
// the diff: a golden file is only as good as the reading it got).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "manifest/loader.h"
#include "manifest/source_tree.h"

namespace gantry::manifest {
namespace {

namespace fs = std::filesystem;

const std::string kTestdata = GANTRY_TESTDATA_DIR "/manifests";
const std::string kReference = GANTRY_REFERENCE_MANIFESTS_DIR;

std::vector<std::string> Cases(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json") &&
        !entry.path().string().ends_with(".golden.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Makes output independent of where the checkout lives.
std::string Relative(std::string text) {
  const std::string prefix = kTestdata + "/";
  for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at)) {
    text.erase(at, prefix.size());
  }
  return text;
}

bool Updating() {
  return std::getenv("GANTRY_UPDATE_GOLDEN") != nullptr;
}

void CompareGolden(const std::string& golden_path, const std::string& actual) {
  if (Updating()) {
    std::ofstream(golden_path, std::ios::binary) << actual;
  }
  REQUIRE(fs::exists(golden_path));
  CHECK(actual == ReadText(golden_path));
}

TEST_CASE("Invalid manifests fail with their own errors at their own places",
          "[manifest][golden]") {
  const std::string dir = kTestdata + "/invalid";
  std::vector<std::string> cases = Cases(dir);
  CHECK(cases.size() >= 40);
  std::set<std::string> first_errors;
  LocalFileSystem local;
  for (const std::string& name : cases) {
    INFO(name);
    LoadResult result = LoadManifests(local, {dir + "/" + name}, {});
    CHECK_FALSE(result.ok());
    std::string actual;
    for (const ManifestError& e : result.errors) actual += Relative(e.ToString()) + "\n";
    std::string stem = name.substr(0, name.rfind('.'));
    CompareGolden(dir + "/" + stem + ".err", actual);
    REQUIRE_FALSE(result.errors.empty());
    // Each case is a different mistake, told at a place in the file.
    const ManifestError& first = result.errors.front();
    CHECK(first.position.line > 0);
    CHECK(first.position.column > 0);
    CHECK(first_errors.insert(first.path + ": " + first.message).second);
  }
}

nlohmann::json Describe(LocalFileSystem& local, const LoadResult& result) {
  nlohmann::json out = nlohmann::json::array();
  for (const LoadedObject& o : result.objects) {
    nlohmann::json entry = {{"line", o.position.line}};
    if (const auto* fn = std::get_if<spec::FunctionSpec>(&o.object)) {
      auto hash = HashFunction(local, *fn);
      REQUIRE(hash.ok());
      entry["canonical"] = spec::ToCanonicalJson(*fn);
      entry["hash"] = *hash;
    } else {
      entry["canonical"] = spec::ToCanonicalJson(std::get<spec::SecretSpec>(o.object));
    }
    out.push_back(entry);
  }
  return out;
}

TEST_CASE("Valid manifests yield their expected specs", "[manifest][golden]") {
  const std::string dir = kTestdata + "/valid";
  std::vector<std::string> cases = Cases(dir);
  CHECK(cases.size() >= 10);
  LocalFileSystem local;
  for (const std::string& name : cases) {
    INFO(name);
    LoadResult result = LoadManifests(local, {dir + "/" + name}, {});
    std::string errors;
    for (const ManifestError& e : result.errors) errors += Relative(e.ToString()) + "\n";
    INFO(errors);
    REQUIRE(result.ok());
    CHECK_FALSE(result.objects.empty());
    std::string stem = name.substr(0, name.rfind('.'));
    CompareGolden(dir + "/" + stem + ".golden.json", Describe(local, result).dump(2) + "\n");

    // The canonical form is itself a manifest (JSON is YAML) meaning the same function.
    for (const LoadedObject& o : result.objects) {
      const auto* fn = std::get_if<spec::FunctionSpec>(&o.object);
      if (fn == nullptr) continue;
      nlohmann::json canonical = spec::ToCanonicalJson(*fn);
      nlohmann::json& body = canonical["spec"];
      for (auto it = body.begin(); it != body.end();) {
        it = it.value().is_null() ? body.erase(it) : std::next(it);
      }
      LoadOptions options;
      options.secret_check = SecretCheck::kNone;
      LoadResult again = LoadManifestText(local, canonical.dump(), "canonical.json", dir, options);
      REQUIRE(again.ok());
      REQUIRE(again.objects.size() == 1);
      const auto& back = std::get<spec::FunctionSpec>(again.objects[0].object);
      CHECK(spec::CanonicalString(back) == spec::CanonicalString(*fn));
      CHECK(*HashFunction(local, back) == *HashFunction(local, *fn));
    }
  }
}

// A directory as people lay one out (testdata/manifests/dirs/<case>/): only the Gantry
// manifests are read, the function's own JSON and YAML are skipped, recursively too.
TEST_CASE("Directories yield their manifests and skip everything else", "[manifest][golden]") {
  const std::string dir = kTestdata + "/dirs";
  LocalFileSystem local;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    INFO(name);
    nlohmann::json out;
    for (bool recursive : {false, true}) {
      LoadOptions options;
      options.recursive = recursive;
      LoadResult result = LoadManifests(local, {entry.path().string()}, options);
      std::string errors;
      for (const ManifestError& e : result.errors) errors += Relative(e.ToString()) + "\n";
      INFO(errors);
      REQUIRE(result.ok());
      nlohmann::json& run = out[recursive ? "recursive" : "flat"];
      run["files"] = nlohmann::json::array();
      run["skipped"] = nlohmann::json::array();
      for (const auto& f : result.files) run["files"].push_back(Relative(f));
      for (const auto& f : result.skipped) run["skipped"].push_back(Relative(f));
      // Names only: what a directory read picks, not the specs (the valid/ cases hold those).
      run["objects"] = nlohmann::json::array();
      for (const LoadedObject& o : result.objects) {
        const auto* fn = std::get_if<spec::FunctionSpec>(&o.object);
        run["objects"].push_back(
            fn != nullptr ? "Function " + fn->QualifiedName()
                          : "Secret " + std::get<spec::SecretSpec>(o.object).QualifiedName());
      }
    }
    CompareGolden(dir + "/" + name + ".golden.json", out.dump(2) + "\n");
  }
}

TEST_CASE("The reference manifests are valid, one per runtime", "[manifest][reference]") {
  LocalFileSystem local;
  LoadOptions options;
  options.secret_check = SecretCheck::kAll;
  LoadResult result = LoadManifests(local, {kReference}, options);
  std::string errors;
  for (const ManifestError& e : result.errors) errors += e.ToString() + "\n";
  INFO(errors);
  REQUIRE(result.ok());
  std::set<std::string> runtimes;
  for (const LoadedObject& o : result.objects) {
    if (const auto* fn = std::get_if<spec::FunctionSpec>(&o.object)) {
      runtimes.insert(std::string(spec::RuntimeName(fn->runtime())));
      CHECK(HashFunction(local, *fn).ok());
    }
  }
  CHECK(runtimes ==
        std::set<std::string>(spec::RuntimeNames().begin(), spec::RuntimeNames().end()));
}

TEST_CASE("The JSON Schema knows exactly the fields of the canonical form", "[manifest][schema]") {
  auto schema = nlohmann::json::parse(ReadText(kReference + "/schema/gantry.schema.json"));
  LocalFileSystem local;
  LoadResult result = LoadManifests(local, {kTestdata + "/valid/python3-full.yaml"}, {});
  REQUIRE(result.ok());
  nlohmann::json canonical =
      spec::ToCanonicalJson(std::get<spec::FunctionSpec>(result.objects[0].object));
  const nlohmann::json& function = schema["$defs"]["function"];
  auto keys = [](const nlohmann::json& object) {
    std::set<std::string> out;
    for (auto it = object.begin(); it != object.end(); ++it) out.insert(it.key());
    return out;
  };
  CHECK(keys(function["properties"]) == keys(canonical));
  auto spec_keys = keys(canonical["spec"]);
  // In the canonical form only when not the default (http, a read-only root).
  spec_keys.insert({"protocol", "readOnlyRootFilesystem", "triggers"});
  CHECK(keys(function["properties"]["spec"]["properties"]) == spec_keys);
  auto scale_keys = keys(canonical["spec"]["scale"]);
  // In the canonical form only when not the default (never paused, fixed keep-alive).
  scale_keys.insert({"pauseAfter", "keepAlive"});
  CHECK(keys(function["properties"]["spec"]["properties"]["scale"]["properties"]) == scale_keys);
  CHECK(keys(function["properties"]["spec"]["properties"]["resources"]["properties"]) ==
        keys(canonical["spec"]["resources"]));
  CHECK(keys(schema["$defs"]["secret"]["properties"]["spec"]["properties"]) ==
        std::set<std::string>{"value", "file", "fromEnv"});
}

}  // namespace
}  // namespace gantry::manifest
