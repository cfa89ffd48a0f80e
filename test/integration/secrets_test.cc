// Secrets that change while functions run, against a real gantryd (CTest label
// "integration"): an updated secret reaches every running replica of every function that
// uses it through the replicas' read-only secrets directory, with no replica restarted,
// and a secret in use can't be deleted. Every container and image carries the test label.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Reads the secret on every call, at both mount points; "?slow" holds the replica for a
// second first, so that two calls at once land on two replicas.
constexpr const char* kHandler = R"SH(#!/bin/sh
if [ "$Http_Query" = slow ]; then sleep 1; fi
printf '%s %s %s' "$(cat /etc/hostname)" "$(cat /var/gantry/secrets/api-key)" "$(cat /var/openfaas/secrets/api-key)"
)SH";

class Project {
 public:
  explicit Project(const TestEngine& engine)
      : dir_(fs::temp_directory_path() / engine.Name("secrets")) {
    fs::create_directories(dir_ / "src");
    std::ofstream(dir_ / "src" / "handler.sh") << kHandler;
    fs::permissions(dir_ / "src" / "handler.sh",
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec);
  }
  ~Project() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  spec::FunctionSpec Function(const std::string& ns, const std::string& name, int replicas) {
    fs::path manifest = dir_ / (name + ".yaml");
    std::ofstream(manifest) << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: "
                            << name
                            << "\nspec:\n  runtime: exec\n  command: [\"sh\", \"handler.sh\"]\n"
                            << "  source: ./src\n  secrets: [api-key]\n  concurrency: 1\n"
                            << "  scale: {min: " << replicas << ", max: " << replicas << "}\n";
    return LoadFunctionInto(ns, manifest);
  }

 private:
  fs::path dir_;
};

// What one call saw: the replica (its hostname) and the secret at both mount points.
struct Seen {
  long status = 0;
  std::string body;
  std::string replica;
  std::string gantry_value;
  std::string openfaas_value;
};

// No assertion here: ReadBoth runs it on other threads, where Catch's can't be used.
Seen Call(const Gantryd& gantryd, const std::string& fn, const std::string& ns, bool slow) {
  Reply r =
      gantryd.Call("GET", "/function/" + fn + "." + ns + (slow ? "?slow" : ""), "", {}, false);
  Seen seen{.status = r.status, .body = r.body};
  std::istringstream words(r.body);
  words >> seen.replica >> seen.gantry_value >> seen.openfaas_value;
  return seen;
}

Seen Read(const Gantryd& gantryd, const std::string& fn, const std::string& ns, bool slow = false) {
  Seen seen = Call(gantryd, fn, ns, slow);
  INFO(seen.body);
  REQUIRE(seen.status == 200);
  return seen;
}

// Two calls at once on a function with two replicas of concurrency 1: one on each.
std::vector<Seen> ReadBoth(const Gantryd& gantryd, const std::string& fn, const std::string& ns) {
  auto a = std::async(std::launch::async, [&] { return Call(gantryd, fn, ns, true); });
  auto b = std::async(std::launch::async, [&] { return Call(gantryd, fn, ns, true); });
  std::vector<Seen> both = {a.get(), b.get()};
  for (const Seen& s : both) {
    INFO(s.body);
    REQUIRE(s.status == 200);
  }
  REQUIRE(both[0].replica != both[1].replica);
  return both;
}

std::string SecretPath(const std::string& ns) {
  return "/apis/gantry/v1/namespaces/" + ns + "/secrets/api-key";
}

TEST_CASE("secrets: an updated secret reaches every running replica, none restarted",
          "[integration][secrets]") {
  TestEngine engine;
  Project project(engine);
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  const std::string ns = engine.value();

  Reply created = gantryd.Call("PUT", SecretPath(ns), nlohmann::json{{"value", "first"}}.dump(),
                               {"Content-Type: application/json"});
  REQUIRE(created.status == 201);
  Deploy(gantryd, project.Function(ns, "reader", 2));
  Deploy(gantryd, project.Function(ns, "other", 1));

  for (const Seen& s : ReadBoth(gantryd, "reader", ns)) {
    CHECK(s.gantry_value == "first");
    CHECK(s.openfaas_value == "first");
  }
  CHECK(Read(gantryd, "other", ns).gantry_value == "first");
  const std::set<std::string> readers = ContainersOf(engine, "reader");
  const std::set<std::string> others = ContainersOf(engine, "other");
  REQUIRE(readers.size() == 2);
  REQUIRE(others.size() == 1);

  // `gantry create secret` again: the resource API's PUT.
  Reply changed = gantryd.Call("PUT", SecretPath(ns), nlohmann::json{{"value", "second"}}.dump(),
                               {"Content-Type: application/json"});
  INFO(changed.body << "\n" << gantryd.Log());
  REQUIRE(changed.status == 200);
  // The PUT returns once the files are replaced; a few polls allow for nothing else.
  bool seen_new = false;
  for (int poll = 0; poll < 50 && !seen_new; ++poll) {
    seen_new = Read(gantryd, "reader", ns).gantry_value == "second";
    if (!seen_new) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(seen_new);
  for (const Seen& s : ReadBoth(gantryd, "reader", ns)) {
    CHECK(s.gantry_value == "second");
    CHECK(s.openfaas_value == "second");
  }
  Seen other = Read(gantryd, "other", ns);
  CHECK(other.gantry_value == "second");
  CHECK(other.openfaas_value == "second");

  // OpenFaaS's PUT /system/secrets does the same.
  Reply openfaas = gantryd.Call(
      "PUT", "/system/secrets",
      nlohmann::json{{"name", "api-key"}, {"namespace", ns}, {"value", "third"}}.dump());
  REQUIRE(openfaas.status == 200);
  for (const Seen& s : ReadBoth(gantryd, "reader", ns)) CHECK(s.gantry_value == "third");
  CHECK(Read(gantryd, "other", ns).openfaas_value == "third");

  // Same containers throughout: the value came in place, not by a restart.
  CHECK(ContainersOf(engine, "reader") == readers);
  CHECK(ContainersOf(engine, "other") == others);
  nlohmann::json fn =
      gantryd.Call("GET", "/apis/gantry/v1/namespaces/" + ns + "/functions/reader").Json();
  CHECK(fn["status"].value("generation", fn.value("generation", 0)) == 1);
}

TEST_CASE("secrets: a secret functions use can't be deleted, one nobody uses can",
          "[integration][secrets]") {
  TestEngine engine;
  Project project(engine);
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  const std::string ns = engine.value();

  REQUIRE(gantryd
              .Call("PUT", SecretPath(ns), nlohmann::json{{"value", "v"}}.dump(),
                    {"Content-Type: application/json"})
              .status == 201);
  Deploy(gantryd, project.Function(ns, "alpha", 1));
  Deploy(gantryd, project.Function(ns, "beta", 1));

  Reply refused = gantryd.Call("DELETE", SecretPath(ns));
  INFO(refused.body);
  CHECK(refused.status == 409);
  CHECK_THAT(refused.body, Catch::Contains("alpha") && Catch::Contains("beta"));
  Reply refused_openfaas = gantryd.Call(
      "DELETE", "/system/secrets", nlohmann::json{{"name", "api-key"}, {"namespace", ns}}.dump());
  CHECK(refused_openfaas.status == 409);
  // Still there, still served.
  CHECK(Read(gantryd, "alpha", ns).gantry_value == "v");

  for (const char* name : {"alpha", "beta"}) {
    REQUIRE(
        gantryd.Call("DELETE", "/apis/gantry/v1/namespaces/" + ns + "/functions/" + name).status <
        300);
  }
  Reply deleted = gantryd.Call("DELETE", SecretPath(ns));
  INFO(deleted.body);
  CHECK(deleted.status == 200);
  CHECK(gantryd.Call("DELETE", SecretPath(ns)).status == 404);
}

}  // namespace
}  // namespace gantry::testing
