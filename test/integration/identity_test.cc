// Instance identity and the control plane against the real engine (CTest label
// "integration"): two gantryds on one engine WITHOUT --label deploy the same function and
// never disturb each other; scale is bounded; a second SIGTERM during shutdown is not a
// crash. The unlabelled gantryds' objects don't carry the test's label, so InstanceGuard
// removes them (by gantry.instance=<id>) whatever happens to the test.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
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
using nlohmann::json;

// Removes every container, image and network carrying gantry.instance=<id> of the instances it was
// told about, when it goes out of scope (declare it before the Gantryds it guards).
class InstanceGuard {
 public:
  explicit InstanceGuard(docker::DockerClient& docker) : docker_(docker) {}
  ~InstanceGuard() {
    for (const auto& id : ids_) {
      if (auto list = docker_.ListContainers({"gantry.instance=" + id}, /*all=*/true)) {
        for (const auto& c : *list) (void)docker_.RemoveContainer(c.id, {.force = true});
      }
      if (auto images = docker_.ListImages({"gantry.instance=" + id})) {
        for (const auto& image : *images) (void)docker_.RemoveImage(image.id, /*force=*/true);
      }
      if (auto networks = docker_.ListNetworks({"gantry.instance=" + id})) {
        for (const auto& n : *networks) (void)docker_.RemoveNetwork(n.id);
      }
    }
  }
  void Add(const std::string& id) {
    REQUIRE(id.size() >= 8);  // an empty id would select every gantry object on the engine
    ids_.insert(id);
  }

 private:
  docker::DockerClient& docker_;
  std::set<std::string> ids_;
};

// A function `same` in namespace `ns`: an exec `cat` that says hello on stderr each call;
// scale 1..2. `version` is a file of its source (another version: another image).
spec::FunctionSpec SameFunction(const fs::path& dir, const std::string& ns,
                                const std::string& version = "v1") {
  fs::create_directories(dir);
  std::ofstream(dir / "version.txt") << version << "\n";
  std::ofstream(dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: same\nspec:\n"
         "  runtime: exec\n  command: [\"sh\", \"-c\", \"echo hello-stderr >&2; cat\"]\n"
         "  source: .\n  scale: {min: 1, max: 2}\n";
  return LoadFunctionInto(ns, dir / "gantry.yaml");
}

std::set<std::string> ContainersOfInstance(TestEngine& engine, const std::string& id) {
  auto list =
      engine.client().ListContainers({"gantry.instance=" + id, "gantry.function=same"}, true);
  REQUIRE(list.ok());
  std::set<std::string> ids;
  for (const auto& c : *list) ids.insert(c.id);
  return ids;
}

// The instance's containers once exactly `n` are left (a rollout's old replica drains
// after the apply answers); REQUIREs it within 30 s.
std::set<std::string> SettledContainers(TestEngine& engine, const std::string& id, size_t n) {
  std::set<std::string> ids;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    ids = ContainersOfInstance(engine, id);
    if (ids.size() == n) return ids;
  }
  FAIL("instance " << id << " has " << ids.size() << " containers, not " << n);
  return ids;
}

bool ImageExists(TestEngine& engine, const std::string& ref) {
  return engine.client().InspectImage(ref).ok();
}

TEST_CASE("identity: two unlabelled gantryds on one engine never touch each other's objects",
          "[integration][identity]") {
  TestEngine engine;
  InstanceGuard guard(engine.client());
  StateDir state(engine);  // holds both state directories (removed at the end)
  const fs::path a_dir = state.path() / "a";
  const fs::path b_dir = state.path() / "b";
  const std::string ns = engine.value();
  auto v1 = SameFunction(a_dir / "fn1", ns);
  const std::string invoke = "/function/same." + ns;

  auto a =
      std::make_unique<Gantryd>(engine, a_dir, std::vector<std::string>{}, /*test_label=*/false);
  const std::string a_id = a->InstanceId();
  guard.Add(a_id);
  Reply a_created = a->Call("PUT", FunctionPath(v1), Bundle(v1));
  INFO(a->Log());
  REQUIRE(a_created.status == 201);
  const std::string a_image = a_created.Json()["image"];
  CHECK_THAT(a_image, Catch::Contains(a_id));
  REQUIRE(a->Call("POST", invoke, "a", {}, false).body == "a");
  const std::set<std::string> a_containers = ContainersOfInstance(engine, a_id);
  REQUIRE(a_containers.size() == 1);

  // B starts (and adopts/removes what it finds) after A's replica runs: A's is not B's.
  auto b = std::make_unique<Gantryd>(engine, b_dir, std::vector<std::string>{}, false);
  const std::string b_id = b->InstanceId();
  guard.Add(b_id);
  REQUIRE(b_id != a_id);
  CHECK(ContainersOfInstance(engine, a_id) == a_containers);
  Reply b_created = b->Call("PUT", FunctionPath(v1), Bundle(v1));
  INFO(b->Log());
  REQUIRE(b_created.status == 201);
  const std::string b_image_v1 = b_created.Json()["image"];
  CHECK(b_image_v1 != a_image);  // its own image: never A's cached one (and A's labels)
  REQUIRE(b->Call("POST", invoke, "b", {}, false).body == "b");
  std::set<std::string> b_containers = ContainersOfInstance(engine, b_id);
  REQUIRE(b_containers.size() == 1);
  for (const auto& id : b_containers) {
    auto info = engine.client().ListContainers({"gantry.instance=" + b_id}, true);
    REQUIRE(info.ok());
    for (const auto& c : *info) CHECK(c.labels.at("gantry.instance") == b_id);
    CHECK(a_containers.count(id) == 0);
  }

  // B rolls out a second version: its first image is no longer used, so A's pruning could
  // take it if it looked at B's images.
  auto v2 = SameFunction(b_dir / "fn2", ns, "v2");
  Reply b_v2 = b->Call("PUT", FunctionPath(v2), Bundle(v2));
  REQUIRE(b_v2.status == 200);
  const std::string b_image_v2 = b_v2.Json()["image"];
  REQUIRE(b_image_v2 != b_image_v1);
  REQUIRE(b->Call("POST", invoke, "b2", {}, false).body == "b2");
  b_containers = SettledContainers(engine, b_id, 1);

  // A builds four new versions (each build prunes A's images beyond the newest three).
  for (int i = 3; i <= 6; ++i) {
    auto vi = SameFunction(a_dir / ("fn" + std::to_string(i)), ns, "v" + std::to_string(i));
    Reply applied = a->Call("PUT", FunctionPath(vi), Bundle(vi));
    REQUIRE(applied.status == 200);
  }
  CHECK(ImageExists(engine, b_image_v1));
  CHECK(ImageExists(engine, b_image_v2));
  CHECK_FALSE(ImageExists(engine, a_image));  // A did prune its own
  CHECK(ContainersOfInstance(engine, b_id) == b_containers);
  CHECK(b->Call("POST", invoke, "still b", {}, false).body == "still b");

  // A's logs are A's replicas' output only.
  REQUIRE(a->Call("POST", invoke, "a6", {}, false).body == "a6");
  Reply logs = a->Call("GET", "/system/logs?name=same&namespace=" + ns);
  REQUIRE(logs.status == 200);
  std::set<std::string> a_now;
  std::set<std::string> b_short;
  for (const auto& id : ContainersOfInstance(engine, b_id)) b_short.insert(id.substr(0, 12));
  std::istringstream lines(logs.body);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    json e = json::parse(line, nullptr, false);
    REQUIRE(e.is_object());
    CHECK(b_short.count(e["instance"].get<std::string>()) == 0);
  }
  CHECK(n > 0);

  // A SIGTERM and a kill -9 of A, each followed by a start that adopts: B is untouched.
  a_now = SettledContainers(engine, a_id, 1);
  CHECK(a->Stop(SIGTERM) == 0);
  a = std::make_unique<Gantryd>(engine, a_dir, std::vector<std::string>{}, false);
  REQUIRE(a->InstanceId() == a_id);
  CHECK(a->Call("POST", invoke, "a again", {}, false).body == "a again");
  CHECK(ContainersOfInstance(engine, a_id) == a_now);  // adopted, not replaced
  a->Stop(SIGKILL);
  a = std::make_unique<Gantryd>(engine, a_dir, std::vector<std::string>{}, false);
  CHECK(ContainersOfInstance(engine, a_id) == a_now);
  CHECK(ContainersOfInstance(engine, b_id) == b_containers);
  CHECK(b->Call("POST", invoke, "b after a's restarts", {}, false).body == "b after a's restarts");

  // Restarting B the same way leaves A alone.
  CHECK(b->Stop(SIGTERM) == 0);
  b = std::make_unique<Gantryd>(engine, b_dir, std::vector<std::string>{}, false);
  CHECK(ContainersOfInstance(engine, a_id) == a_now);
  CHECK(ContainersOfInstance(engine, b_id) == b_containers);

  // Deleting the function in A removes A's replicas and images, and nothing of B's.
  REQUIRE(a->Call("DELETE", FunctionPath(v1)).status == 200);
  CHECK(ContainersOfInstance(engine, a_id).empty());
  auto a_images = engine.client().ListImages({"gantry.instance=" + a_id});
  REQUIRE(a_images.ok());
  CHECK(a_images->empty());
  CHECK(ImageExists(engine, b_image_v2));
  CHECK(ContainersOfInstance(engine, b_id) == b_containers);
  CHECK(b->Call("POST", invoke, "b after a's delete", {}, false).body == "b after a's delete");
  CHECK(b->Call("DELETE", FunctionPath(v1)).status == 200);
}

TEST_CASE("identity: a re-apply rebuilds an image that was removed behind gantryd's back",
          "[integration][identity]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  auto fn = SameFunction(state.path() / "fn", engine.value());
  std::string bundle = Bundle(fn);
  Reply created = gantryd.Call("PUT", FunctionPath(fn), bundle);
  INFO(gantryd.Log());
  REQUIRE(created.status == 201);
  const std::string image = created.Json()["image"];
  REQUIRE(gantryd.Call("PUT", FunctionPath(fn), bundle).Json()["result"] == "unchanged");

  REQUIRE(engine.client().RemoveImage(image, /*force=*/true).ok());
  // The digest alone is not enough any more: the CLI is asked for the bundle...
  Reply offered = gantryd.Call("PUT", FunctionPath(fn), "",
                               {"X-Gantry-Bundle-Digest: " + builder::BundleDigest(bundle)});
  CHECK(offered.status == 412);
  // ... and the bundle is built again.
  Reply again = gantryd.Call("PUT", FunctionPath(fn), bundle);
  REQUIRE(again.status == 200);
  CHECK(again.Json()["result"] != "unchanged");
  CHECK(again.Json()["built"] == true);
  CHECK(ImageExists(engine, image));
  CHECK(gantryd.Call("DELETE", FunctionPath(fn)).status == 200);
}

TEST_CASE("identity: scale is bounded by scale.min and scale.max in both APIs",
          "[integration][identity]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  auto fn = SameFunction(state.path() / "fn", engine.value());  // scale 1..2
  REQUIRE(gantryd.Call("PUT", FunctionPath(fn), Bundle(fn)).status == 201);
  INFO(gantryd.Log());
  const std::string scale = FunctionPath(fn) + "/scale";
  const std::string openfaas = "/system/scale-function/same." + engine.value();

  for (const char* replicas :
       {"8", "3", "0", "-1", "1000000000", "4294967297", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808"}) {
    INFO("replicas " << replicas);
    Reply r = gantryd.Call("PUT", scale, std::string("{\"replicas\":") + replicas + "}");
    CHECK(r.status == 400);
    CHECK(r.Json().contains("error"));
    Reply o = gantryd.Call("POST", openfaas,
                           std::string("{\"serviceName\":\"same\",\"replicas\":") + replicas + "}");
    // OpenFaaS's scale-function takes zero below scale.min (held until the next call).
    CHECK(o.status == (std::string(replicas) == "0" ? 202 : 400));
    if (o.status != 202) CHECK(o.Json().contains("error"));
  }
  Reply named = gantryd.Call("PUT", scale, "{\"replicas\":8}");
  CHECK_THAT(named.Json()["error"].get<std::string>(), Catch::Contains("[1, 2]"));
  CHECK(gantryd.Call("PUT", scale, "{\"replicas\":1.5}").status == 400);

  Reply two = gantryd.Call("PUT", scale, "{\"replicas\":2}");
  CHECK(two.status == 200);
  CHECK(two.Json()["replicas"] == 2);
  CHECK(gantryd.Call("POST", openfaas, "{\"serviceName\":\"same\",\"replicas\":1}").status == 202);
  // Nothing above started more than scale.max replicas.
  CHECK(ContainersOf(engine, "same").size() <= 2);
  CHECK(gantryd.Call("GET", "/healthz", "", {}, false).status == 200);
  CHECK(gantryd.Call("DELETE", FunctionPath(fn)).status == 200);
}

TEST_CASE("identity: a second SIGTERM during shutdown still exits 0", "[integration][identity]") {
  TestEngine engine;
  StateDir state(engine);
  auto fn = SameFunction(state.path() / "fn", engine.value());
  for (int round = 0; round < 3; ++round) {
    Gantryd gantryd(engine, state.path());
    if (round == 0) REQUIRE(gantryd.Call("PUT", FunctionPath(fn), Bundle(fn)).status == 201);
    REQUIRE(gantryd.Call("POST", "/function/same." + engine.value(), "x", {}, false).status == 200);
    int status = gantryd.StopRepeatedly(SIGTERM);
    INFO(gantryd.Log());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

}  // namespace
}  // namespace gantry::testing
