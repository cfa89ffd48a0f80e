// Dependencies installed at build, vendored trees and upload limits, against a real gantryd
// and engine (CTest label "integration"). Offline: the packages are made by the test itself
// (a wheel written by hand into the function's wheels/ directory, an npm tarball referenced
// with file:), and pip/npm are told not to look anywhere else.
#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;

struct ArchiveFile {
  std::string path;
  std::string content;
};

// Writes a zip (a wheel) or a gzipped tar (an npm package) with libarchive.
void WriteArchive(const fs::path& to, bool zip, const std::vector<ArchiveFile>& files) {
  fs::create_directories(to.parent_path());
  struct archive* a = archive_write_new();
  if (zip) {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
  }
  REQUIRE(archive_write_open_filename(a, to.c_str()) == ARCHIVE_OK);
  for (const ArchiveFile& f : files) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, f.path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(f.content.size()));
    archive_entry_set_mtime(e, 1700000000, 0);
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a, f.content.data(), f.content.size()) ==
            static_cast<la_ssize_t>(f.content.size()));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// A pure-python wheel of package `tinydep` at `version` in `dir`.
void WriteWheel(const fs::path& dir, const std::string& version) {
  fs::create_directories(dir);
  std::string info = "tinydep-" + version + ".dist-info/";
  WriteArchive(
      dir / ("tinydep-" + version + "-py3-none-any.whl"), true,
      {{"tinydep/__init__.py", "VERSION = \"" + version + "\"\n"},
       {info + "METADATA", "Metadata-Version: 2.1\nName: tinydep\nVersion: " + version + "\n"},
       {info + "WHEEL",
        "Wheel-Version: 1.0\nGenerator: deps_test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
       {info + "RECORD", "tinydep/__init__.py,,\n" + info + "METADATA,,\n" + info + "WHEEL,,\n" +
                             info + "RECORD,,\n"}});
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// A function project in the test's namespace: <dir>/gantry.yaml and <dir>/src.
struct Project {
  fs::path dir;
  std::string name;
  std::string ns;
  Project(const fs::path& root, std::string function, std::string namespace_name,
          const std::string& spec)
      : dir(root / function), name(std::move(function)), ns(std::move(namespace_name)) {
    fs::create_directories(dir / "src");
    WriteFile(dir / "gantry.yaml",
              "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: " + name +
                  ", namespace: " + ns + "}\nspec:\n  source: ./src\n" + spec);
  }
  std::string path() const { return "/apis/gantry/v1/namespaces/" + ns + "/functions/" + name; }
  std::string Bundle() const {
    manifest::LocalFileSystem local;
    auto loaded = manifest::LoadManifests(local, {(dir / "gantry.yaml").string()}, {});
    for (const auto& e : loaded.errors) FAIL(e.ToString());
    REQUIRE(loaded.objects.size() == 1);
    auto bundle = builder::MakeBundle(std::get<spec::FunctionSpec>(loaded.objects[0].object));
    REQUIRE(bundle.ok());
    return *bundle;
  }
  Reply Apply(const Gantryd& g) const {
    return g.Call("PUT", path(), Bundle(), {"Content-Type: application/x-tar"});
  }
  Reply Invoke(const Gantryd& g) const {
    return g.Call("POST", "/function/" + name + "." + ns, "", {}, false);
  }
};

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST_CASE(
    "python3: requirements.txt is installed from the source's wheels/, in a layer code changes "
    "reuse",
    "[integration][deps]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  Project p(state.path(), "pydeps", engine.value(),
            "  runtime: python3\n  handler: handler.main\n");
  WriteWheel(p.dir / "src/wheels", "1.0");
  WriteFile(p.dir / "src/requirements.txt", "--no-index\n--find-links ./wheels\ntinydep==1.0\n");
  WriteFile(p.dir / "src/handler.py",
            "import tinydep\n\ndef main(req):\n    return 'tinydep %s from %s' % (tinydep.VERSION, "
            "tinydep.__file__)\n");

  Reply created = p.Apply(gantryd);
  INFO(gantryd.Log());
  REQUIRE(created.status == 201);
  Reply first = p.Invoke(gantryd);
  CHECK(first.status == 200);
  CHECK(first.body == "tinydep 1.0 from /opt/gantry/deps/python/tinydep/__init__.py");
  CHECK(Count(gantryd.Log(), "Successfully installed tinydep-1.0") == 1);

  // Code only: a new image whose install step is the engine's cached layer (pip doesn't run).
  WriteFile(p.dir / "src/handler.py",
            "import tinydep\n\ndef main(req):\n    return 'v2 tinydep %s' % tinydep.VERSION\n");
  Reply code = p.Apply(gantryd);
  REQUIRE(code.status == 200);
  CHECK(code.Json()["generation"] == 2);
  CHECK(p.Invoke(gantryd).body == "v2 tinydep 1.0");
  std::string log = gantryd.Log();
  CHECK(Count(log, "Successfully installed tinydep-1.0") == 1);
  std::size_t install_step = log.rfind("python3 -m pip install");
  REQUIRE(install_step != std::string::npos);
  CHECK(log.find("Using cache", install_step) != std::string::npos);

  // Requirements changed: installed again.
  WriteWheel(p.dir / "src/wheels", "2.0");
  WriteFile(p.dir / "src/requirements.txt", "--no-index\n--find-links ./wheels\ntinydep==2.0\n");
  REQUIRE(p.Apply(gantryd).status == 200);
  CHECK(p.Invoke(gantryd).body == "v2 tinydep 2.0");
  CHECK(Count(gantryd.Log(), "Successfully installed tinydep-2.0") == 1);
}

TEST_CASE("python3: a requirement that can't be found fails the apply, naming it",
          "[integration][deps]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  Project p(state.path(), "pymissing", engine.value(),
            "  runtime: python3\n  handler: handler.main\n");
  WriteFile(p.dir / "src/requirements.txt", "--no-index\nnosuchpkg==1.0\n");
  WriteFile(p.dir / "src/handler.py", "def main(req):\n    return 'x'\n");
  Reply failed = p.Apply(gantryd);
  INFO(failed.body);
  CHECK(failed.status == 400);
  std::string error = failed.Json().value("error", "");
  CHECK_THAT(error,
             Catch::Contains("pip install: No matching distribution found for nosuchpkg==1.0"));
  CHECK_THAT(error, Catch::Contains("last lines of pip's output:"));
}

TEST_CASE(
    "node: package.json's file: dependency is installed, a vendored node_modules with .bin links "
    "builds",
    "[integration][deps]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  Project p(state.path(), "nodedeps", engine.value(), "  runtime: node\n  handler: handler.main\n");
  WriteArchive(
      p.dir / "src/vendor/tinynode-1.0.0.tgz", false,
      {{"package/package.json", R"({"name": "tinynode", "version": "1.0.0", "main": "index.js"})"},
       {"package/index.js", "module.exports = { version: '1.0.0' };\n"}});
  WriteFile(
      p.dir / "src/package.json",
      R"({"name": "nodedeps", "version": "1.0.0", "dependencies": {"tinynode": "file:vendor/tinynode-1.0.0.tgz"}})");
  // Vendored by hand, as npm lays it out: .bin holds relative links into the packages.
  WriteFile(p.dir / "src/node_modules/vendored/package.json",
            R"({"name": "vendored", "bin": "cli.js"})");
  WriteFile(p.dir / "src/node_modules/vendored/index.js", "module.exports = 'vendored ok';\n");
  WriteFile(p.dir / "src/node_modules/vendored/cli.js", "#!/usr/bin/env node\n");
  fs::create_directories(p.dir / "src/node_modules/.bin");
  fs::create_symlink("../vendored/cli.js", p.dir / "src/node_modules/.bin/vendored");
  WriteFile(p.dir / "src/handler.js",
            "const tiny = require('tinynode');\nconst vendored = require('vendored');\n"
            "exports.main = async () => `tinynode ${tiny.version} from "
            "${require.resolve('tinynode')}; ${vendored}`;\n");
  Reply created = p.Apply(gantryd);
  INFO(gantryd.Log());
  REQUIRE(created.status == 201);
  Reply r = p.Invoke(gantryd);
  CHECK(r.status == 200);
  CHECK(r.body ==
        "tinynode 1.0.0 from /opt/gantry/deps/node/node_modules/tinynode/index.js; vendored ok");

  // A tarball that isn't there: the apply fails with npm's own reason.
  Project missing(state.path(), "nodemissing", engine.value(),
                  "  runtime: node\n  handler: handler.main\n");
  WriteFile(missing.dir / "src/package.json",
            R"({"dependencies": {"nosuchpkg": "file:vendor/nosuchpkg-1.0.0.tgz"}})");
  WriteFile(missing.dir / "src/handler.js", "exports.main = async () => 'x';\n");
  Reply failed = missing.Apply(gantryd);
  INFO(failed.body);
  CHECK(failed.status == 400);
  CHECK_THAT(failed.Json().value("error", ""),
             Catch::Contains("npm install: ") && Catch::Contains("nosuchpkg"));
}

TEST_CASE(
    "uploads: over --max-upload is a 413 naming both sizes and the flag, the CLI prints it, 40 MiB "
    "fits "
    "the default",
    "[integration][deps]") {
  TestEngine engine;
  StateDir state(engine);
  {
    Gantryd gantryd(engine, state.path(), {"--max-upload", "1Mi"});
    Project p(state.path(), "big", engine.value(), "  runtime: exec\n  command: [\"cat\"]\n");
    // 1.5 MiB that gzip can't shrink.
    std::string noise(std::size_t{3} << 19, '\0');
    std::uint64_t x = 88172645463325252ull;
    for (char& ch : noise) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      ch = static_cast<char>(x);
    }
    WriteFile(p.dir / "src/blob", noise);
    Reply offer = gantryd.Call("PUT", p.path(), "", {"X-Gantry-Bundle-Digest: sha256:00"});
    CHECK(offer.status == 412);
    CHECK(offer.Json()["limits"]["maxUploadBytes"] == 1 << 20);
    Reply refused = p.Apply(gantryd);
    REQUIRE(refused.status == 413);
    nlohmann::json j = refused.Json();
    CHECK(j["flag"] == "--max-upload");
    CHECK(j["limitBytes"] == 1 << 20);
    CHECK(j["uploadBytes"].get<std::size_t>() > (std::size_t{3} << 19));
    CHECK_THAT(j.value("error", ""), Catch::Contains("1.5 MiB") && Catch::Contains("--max-upload"));

    std::string command = std::string(GANTRY_BINARY) + " --server " + gantryd.url() + " --token " +
                          gantryd.token() + " apply -f " + (p.dir / "gantry.yaml").string() +
                          " 2>&1";
    std::FILE* cli = ::popen(command.c_str(), "r");
    REQUIRE(cli != nullptr);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, cli)) > 0;) out.append(buf, n);
    int rc = ::pclose(cli);
    CHECK(rc != 0);
    CHECK_THAT(out, Catch::Contains("1.5 MiB to upload") && Catch::Contains("limit of 1.0 MiB") &&
                        Catch::Contains("gantryd --max-upload"));
    CHECK_THAT(out, !Catch::Contains("cannot reach"));
  }
  {
    // Compressible: small to upload, over the unpacked limit.
    Gantryd gantryd(engine, state.path(), {"--max-unpacked", "1Mi"});
    Project p(state.path(), "wide", engine.value(), "  runtime: exec\n  command: [\"cat\"]\n");
    WriteFile(p.dir / "src/blob", std::string(std::size_t{3} << 19, 'x'));
    std::string command = std::string(GANTRY_BINARY) + " --server " + gantryd.url() + " --token " +
                          gantryd.token() + " apply -f " + (p.dir / "gantry.yaml").string() +
                          " 2>&1";
    std::FILE* cli = ::popen(command.c_str(), "r");
    REQUIRE(cli != nullptr);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, cli)) > 0;) out.append(buf, n);
    CHECK(::pclose(cli) != 0);
    CHECK_THAT(out,
               Catch::Contains("1.5 MiB unpacked") && Catch::Contains("gantryd --max-unpacked"));
    // The server says the same to a client that doesn't check first.
    auto gz = builder::CompressBundle(p.Bundle());
    REQUIRE(gz.ok());
    Reply refused = gantryd.Call("PUT", p.path(), *gz, {"Content-Type: application/gzip"});
    CHECK(refused.status == 413);
    CHECK(refused.Json()["flag"] == "--max-unpacked");
    CHECK(refused.Json()["uploadBytes"] == gz->size());
  }
  // The default is Lambda's 50 MiB: a 40 MiB source is accepted (it was 32 MiB).
  Gantryd gantryd(engine, state.path());
  Project p(state.path(), "forty", engine.value(), "  runtime: exec\n  command: [\"cat\"]\n");
  WriteFile(p.dir / "src/blob", std::string(std::size_t{40} << 20, 'x'));
  Reply accepted = p.Apply(gantryd);
  INFO(accepted.body);
  CHECK(accepted.status == 201);
}

}  // namespace
}  // namespace gantry::testing
