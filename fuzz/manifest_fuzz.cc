// libFuzzer target for the manifest parser and validator: any bytes, as one manifest file,
// must come back as objects or located errors — never a crash, a hang, a sanitizer report
// or an exception. Valid functions must also survive a round trip through their canonical
// JSON (which is YAML too): same canonical form, same hash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "manifest/source_tree.h"
#include "spec/function_spec.h"
#include "spec/secret_spec.h"

namespace {

using gantry::manifest::LoadManifestText;
using gantry::manifest::LoadOptions;
using gantry::manifest::MemoryFileSystem;

MemoryFileSystem& Files() {
  // Source directories and secret files the seed manifests refer to.
  static MemoryFileSystem* fs = [] {
    auto* f = new MemoryFileSystem;
    for (const char* dir : {"src", "app", "python", "node", "exec", "dockerfile"}) {
      f->AddFile(std::string(dir) + "/handler.py", "def main(event, context):\n  return event\n");
      f->AddFile(std::string(dir) + "/Dockerfile", "FROM scratch\n");
    }
    f->AddFile("db-password.txt", "hunter2\n");
    return f;
  }();
  return *fs;
}

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "manifest_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Drops null members: canonical JSON says "not used" with null, a manifest by leaving out.
nlohmann::json WithoutNulls(const nlohmann::json& j) {
  if (!j.is_object()) return j;
  nlohmann::json out = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_null()) out[it.key()] = WithoutNulls(it.value());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadOptions options;
  options.limits.max_bytes = std::size_t{256} * 1024;
  options.secret_check = size % 2 == 0 ? gantry::manifest::SecretCheck::kAll
                                       : gantry::manifest::SecretCheck::kDefinedNamespaces;
  auto result = LoadManifestText(Files(), text, "fuzz.yaml", "", options);
  for (const auto& e : result.errors) {
    if (e.message.empty()) Fail("error without a message", e.ToString());
    if (e.position.line < 0 || e.position.column < 0) Fail("negative position", e.ToString());
  }
  for (const auto& object : result.objects) {
    if (const auto* fn = std::get_if<gantry::spec::FunctionSpec>(&object.object)) {
      std::string canonical = gantry::spec::CanonicalString(*fn);
      auto hash = gantry::manifest::HashFunction(Files(), *fn);
      if (!hash) Fail("hash failed", hash.error().ToString());
      std::string again = WithoutNulls(gantry::spec::ToCanonicalJson(*fn)).dump();
      LoadOptions reload_options = options;
      reload_options.secret_check = gantry::manifest::SecretCheck::kNone;
      auto reloaded = LoadManifestText(Files(), again, "canonical.json", "", reload_options);
      if (!reloaded.ok() || reloaded.objects.size() != 1) {
        std::string detail = again;
        for (const auto& e : reloaded.errors) detail += "\n" + e.ToString();
        Fail("canonical form does not load back", detail);
      }
      const auto* back = std::get_if<gantry::spec::FunctionSpec>(&reloaded.objects[0].object);
      if (back == nullptr || gantry::spec::CanonicalString(*back) != canonical) {
        Fail("canonical form changed on reload", canonical);
      }
      auto hash_again = gantry::manifest::HashFunction(Files(), *back);
      if (!hash_again || *hash_again != *hash) Fail("hash changed on reload", canonical);
    } else {
      const auto& secret = std::get<gantry::spec::SecretSpec>(object.object);
      nlohmann::json canonical = gantry::spec::ToCanonicalJson(secret);
      if (canonical["spec"].contains("value"))
        Fail("secret value in canonical form", canonical.dump());
    }
  }
  return 0;
}
