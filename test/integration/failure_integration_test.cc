// Functions that can't start, through a real gantryd (CTest label "integration"): a python3
// handler importing a module that is not installed, a node handler requiring one, an exec
// function whose handler file is missing. Each call's error body names what failed in the
// function's own words, and never a host path, a socket path or Asio's words.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Writes a function `name` of `runtime` with `files` under the state dir and applies it.
spec::FunctionSpec ApplyFunction(Gantryd& gantryd, TestEngine& engine, const fs::path& dir,
                                 const std::string& name, const std::string& spec_lines,
                                 const std::map<std::string, std::string>& files) {
  fs::path src = dir / name;
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml") << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n"
                                     << "  name: " << name << "\nspec:\n"
                                     << spec_lines << "  source: .\n";
  for (const auto& [file, text] : files) {
    std::ofstream out(src / file);
    out << text;
    if (file.ends_with(".sh"))
      fs::permissions(src / file, fs::perms::owner_all, fs::perm_options::add);
  }
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Deploy(gantryd, fn);
  return fn;
}

// Calls the function until its error body contains `needle` (the pool learns why its
// replica failed from the replica's log, which may come just after the first failed call)
// or a minute has passed. Every answer on the way must be a 5xx JSON error body that names
// the function and no host path. Returns the last answer.
Reply CallUntilNamed(Gantryd& gantryd, const std::string& name, const std::string& ns,
                     const fs::path& state_dir, const std::string& needle) {
  Reply r;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < until;) {
    r = gantryd.Call("POST", "/function/" + name + "." + ns, "{}", {}, /*auth=*/false);
    INFO(r.status << " " << r.body);
    REQUIRE((r.status == 502 || r.status == 503));
    auto body = r.Json();
    REQUIRE(body.is_object());
    CHECK(body["function"] == name);
    CHECK_THAT(body["error"].get<std::string>(), Catch::Contains(name));
    CHECK_THAT(r.body, !Catch::Contains(state_dir.string()));
    CHECK_THAT(r.body, !Catch::Contains("/var/lib/gantry"));
    CHECK_THAT(r.body, !Catch::Contains(".sock"));
    CHECK_THAT(r.body, !Catch::Contains("end of stream"));
    if (r.body.find(needle) != std::string::npos) return r;
    std::this_thread::sleep_for(300ms);
  }
  return r;
}

TEST_CASE("failures: a python3 handler that fails at import: the call names the Python error",
          "[integration][failures]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  ApplyFunction(gantryd, engine, state.path(), "pyimport",
                "  runtime: python3\n  handler: handler.main\n",
                {{"handler.py", "import requests\n\n\ndef main(req):\n    return 'hi'\n"}});
  Reply r = CallUntilNamed(gantryd, "pyimport", engine.value(), state.path(),
                           "No module named 'requests'");
  INFO(r.body << "\n" << gantryd.Log());
  auto body = r.Json();
  CHECK(body["reason"] == "handler import failed: ModuleNotFoundError: No module named 'requests'");
  CHECK_THAT(body["error"].get<std::string>(),
             Catch::StartsWith("function pyimport's replica") &&
                 Catch::EndsWith("handler import failed: ModuleNotFoundError: No module named "
                                 "'requests'"));
}

TEST_CASE("failures: a node handler requiring a missing module: the call names it",
          "[integration][failures]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  ApplyFunction(
      gantryd, engine, state.path(), "jsrequire", "  runtime: node\n  handler: handler.main\n",
      {{"handler.js", "const pad = require('left-pad');\nexports.main = async () => 'hi';\n"}});
  Reply r = CallUntilNamed(gantryd, "jsrequire", engine.value(), state.path(),
                           "Cannot find module 'left-pad'");
  INFO(r.body << "\n" << gantryd.Log());
  CHECK(r.Json()["reason"] == "handler import failed: Cannot find module 'left-pad'");
}

TEST_CASE("failures: an exec function whose handler is missing: the call says so",
          "[integration][failures]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  ApplyFunction(gantryd, engine, state.path(), "execmissing",
                "  runtime: exec\n  command: [\"./handler.sh\"]\n",
                {{"README", "the handler is not here\n"}});
  Reply r = CallUntilNamed(gantryd, "execmissing", engine.value(), state.path(),
                           "not found or not executable: ./handler.sh");
  INFO(r.body << "\n" << gantryd.Log());
  CHECK(r.Json()["reason"] ==
        "function can't run: command not found or not executable: ./handler.sh");
}

}  // namespace
}  // namespace gantry::testing
