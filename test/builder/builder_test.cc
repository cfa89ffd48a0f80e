// The builder against the fake engine (images modelled): content-addressed tags shared
// across function names, and removal of images no function uses.
#include "builder/builder.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "support/fake_docker_client.h"

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;
using testing::FakeDockerClient;

// A scratch directory with a shim, bootstraps and one function's source; Spec() loads a
// manifest for it under any name and handler.
class Project {
 public:
  Project() {
    dir_ = fs::temp_directory_path() /
           ("gantry-builder-unit-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_ / "src");
    fs::create_directories(dir_ / "boot/python3");
    std::ofstream(dir_ / "shim") << "SHIM";
    std::ofstream(dir_ / "boot/python3/bootstrap.py") << "PY";
    Write("src/handler.py", "def main(event, context): return 'hi'\n");
  }
  ~Project() { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& content) const {
    std::ofstream(dir_ / rel) << content;
  }

  spec::FunctionSpec Spec(const std::string& name, const std::string& ns = "default",
                          const std::string& handler = "handler.main") const {
    std::string yaml = "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: " + name +
                       ", namespace: " + ns +
                       "}\nspec:\n  runtime: python3\n  handler: " + handler +
                       "\n  source: ./src\n";
    Write(name + ".yaml", yaml);
    manifest::LocalFileSystem local;
    auto loaded = manifest::LoadManifests(local, {(dir_ / (name + ".yaml")).string()}, {});
    for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
    REQUIRE(loaded.objects.size() == 1);
    return std::get<spec::FunctionSpec>(loaded.objects[0].object);
  }

  BuilderOptions Options() const {
    BuilderOptions o;
    o.templates.shim_path = (dir_ / "shim").string();
    o.templates.bootstrap_dir = (dir_ / "boot").string();
    o.instance_id = "abcd1234";
    return o;
  }

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

// A fake engine with images modelled and the python3 base image present.
struct Engine {
  Engine() {
    fake.ModelImages();
    fake.AddImage({.id = "sha256:base1", .repo_tags = {"gantry/python3:bookworm"}});
  }
  FakeDockerClient fake;
};

TEST_CASE("builder: the same source under a second name (and handler) does not call POST /build",
          "[builder]") {
  Project p;
  Engine e;
  Builder builder(e.fake, p.Options());

  auto first = builder.Build(p.Spec("hello"));
  REQUIRE(first.ok());
  CHECK_FALSE(first->cached);
  CHECK(e.fake.CountCalls("BuildImage") == 1);
  CHECK_THAT(first->ref, Catch::StartsWith("gantry/abcd1234/fn:"));
  CHECK(first->env == std::map<std::string, std::string>{{"_HANDLER", "handler.main"}});

  auto second = builder.Build(p.Spec("hello-again", "other", "handler.other"));
  REQUIRE(second.ok());
  CHECK(second->cached);
  CHECK(second->ref == first->ref);
  CHECK(second->id == first->id);
  CHECK(e.fake.CountCalls("BuildImage") == 1);  // asked whether it exists, never built
  // The handler is the container's, not the image's.
  CHECK(second->env == std::map<std::string, std::string>{{"_HANDLER", "handler.other"}});

  // The image says nothing of the function it was first built for.
  auto images = e.fake.images();
  REQUIRE(images.size() == 2);
  CHECK(images[1].labels.count("gantry.function") == 0);
  CHECK(images[1].labels.count("gantry.namespace") == 0);
  CHECK(images[1].labels.at("gantry.instance") == "abcd1234");
}

TEST_CASE("builder: a cached layer a concurrent removal took away is built again, once",
          "[builder]") {
  Project p;
  Engine e;
  Builder builder(e.fake, p.Options());
  // What the engine says when another build's image removal deleted a layer this build's
  // cache lookup had just chosen.
  e.fake.FailCalls(
      "BuildImage",
      core::Error::InvalidArgument("failed to get digest sha256:0123: open "
                                   "/var/lib/docker/image/x: no such file or directory"),
      1);
  auto built = builder.Build(p.Spec("hello"));
  REQUIRE(built.ok());
  CHECK(e.fake.CountCalls("BuildImage") == 2);

  // Any other build failure is the build's: not retried.
  Project q;
  q.Write("src/handler.py", "def main(event, context): return 'other'\n");
  e.fake.FailCalls("BuildImage", core::Error::InvalidArgument("The command '/bin/sh' failed"), 2);
  CHECK_FALSE(builder.Build(q.Spec("other")).ok());
  CHECK(e.fake.CountCalls("BuildImage") == 3);
}

TEST_CASE("builder: what goes into the image changes the tag, the name does not", "[builder]") {
  Project p;
  Engine e;
  Builder builder(e.fake, p.Options());
  auto tag = builder.Tag(p.Spec("a"));
  REQUIRE(tag.ok());
  CHECK(*builder.Tag(p.Spec("b", "elsewhere", "handler.other")) == *tag);

  p.Write("src/handler.py", "def main(event, context): return 'changed'\n");
  auto changed = builder.Tag(p.Spec("a"));
  REQUIRE(changed.ok());
  CHECK(*changed != *tag);

  // A rebuilt base image (same name, new id) is other content.
  e.fake.AddImage({.id = "sha256:base2", .repo_tags = {"gantry/python3:bookworm"}});
  REQUIRE(e.fake.RemoveImage("sha256:base1", false).ok());
  CHECK(*builder.Tag(p.Spec("a")) != *changed);

  // Another instance, or other labels, never share the image.
  BuilderOptions other = p.Options();
  other.instance_id = "ffff0000";
  CHECK(*Builder(e.fake, other).Tag(p.Spec("a")) != *builder.Tag(p.Spec("a")));
  BuilderOptions labelled = p.Options();
  labelled.extra_labels = {{"gantry.test", "x"}};
  CHECK(*Builder(e.fake, labelled).Tag(p.Spec("a")) != *builder.Tag(p.Spec("a")));
}

TEST_CASE("builder: RemoveUnused never removes an image another function still uses", "[builder]") {
  Project p;
  Engine e;
  BuilderOptions options = p.Options();
  options.keep_unused = 0;
  Builder builder(e.fake, options);

  // Two functions on one image; then the first moves on to new code.
  auto shared = builder.Build(p.Spec("one"));
  REQUIRE(shared.ok());
  REQUIRE(builder.Build(p.Spec("two")).ok());
  p.Write("src/handler.py", "def main(event, context): return 'v2'\n");
  auto v2 = builder.Build(p.Spec("one"));
  REQUIRE(v2.ok());
  REQUIRE(v2->ref != shared->ref);
  // A user's image with the instance label, not made by a builder: never touched.
  e.fake.AddImage({.repo_tags = {"user/own:1"}, .labels = {{"gantry.instance", "abcd1234"}}});

  // "two" still runs the shared image: it stays.
  CHECK(builder.RemoveUnused({v2->ref, shared->ref}) == 0);
  CHECK(e.fake.InspectImage(shared->ref).ok());
  // "two" is gone too: now it goes, and the current one stays.
  CHECK(builder.RemoveUnused({v2->ref}) == 1);
  CHECK_FALSE(e.fake.InspectImage(shared->ref).ok());
  CHECK(e.fake.InspectImage(v2->ref).ok());
  CHECK(e.fake.InspectImage("user/own:1").ok());
  CHECK(e.fake.InspectImage("gantry/python3:bookworm").ok());
}

TEST_CASE("builder: RemoveUnused keeps the newest unused images, and those a container uses",
          "[builder]") {
  Project p;
  Engine e;
  BuilderOptions options = p.Options();
  options.keep_unused = 1;
  Builder builder(e.fake, options);
  std::vector<std::string> refs;
  for (int i = 0; i < 4; ++i) {
    p.Write("src/handler.py", "def main(event, context): return " + std::to_string(i) + "\n");
    auto built = builder.Build(p.Spec("fn"));
    REQUIRE(built.ok());
    refs.push_back(built->ref);
  }
  // The oldest still runs in a container (a rollout drains it): the engine refuses.
  e.fake.AddRunning({.name = "old", .image = refs[0]});
  CHECK(builder.RemoveUnused({refs[3]}) == 1);  // refs[1]; refs[2] is the newest unused
  CHECK(e.fake.InspectImage(refs[0]).ok());
  CHECK_FALSE(e.fake.InspectImage(refs[1]).ok());
  CHECK(e.fake.InspectImage(refs[2]).ok());
  // Without the cache (a delete), everything unused that no container holds goes.
  CHECK(builder.RemoveUnused({refs[3]}, /*keep_recent=*/false) == 1);
  CHECK_FALSE(e.fake.InspectImage(refs[2]).ok());
  CHECK(e.fake.InspectImage(refs[3]).ok());

  // A builder without an identity removes nothing: every Gantry image would be a candidate.
  BuilderOptions anonymous = p.Options();
  anonymous.instance_id.clear();
  CHECK(Builder(e.fake, anonymous).RemoveUnused({}, false) == 0);
  CHECK(e.fake.InspectImage(refs[3]).ok());
}

TEST_CASE("builder: a stem image is content-tagged, built once, and replaces older ones",
          "[builder][stem]") {
  Project p;
  Engine e;
  Builder builder(e.fake, p.Options());
  auto stem = builder.BuildStem(spec::Runtime::kPython3);
  REQUIRE(stem.ok());
  CHECK_FALSE(stem->cached);
  CHECK(stem->runtime_api);
  CHECK(stem->env.empty());
  CHECK_THAT(stem->ref, Catch::StartsWith("gantry/abcd1234/fn:stem-python3-"));
  auto image = e.fake.InspectImage(stem->ref);
  REQUIRE(image.ok());
  CHECK(image->labels.at("gantry.stem") == "python3");
  CHECK(image->labels.at("gantry.instance") == "abcd1234");
  // Not a function image: RemoveUnused (which no function names it to) leaves it.
  CHECK(image->labels.count("gantry.runtime") == 0);
  CHECK(builder.RemoveUnused({}, /*keep_recent=*/false) == 0);
  CHECK(e.fake.InspectImage(stem->ref).ok());

  auto again = builder.BuildStem(spec::Runtime::kPython3);
  REQUIRE(again.ok());
  CHECK(again->cached);
  CHECK(again->ref == stem->ref);
  CHECK(again->id == stem->id);

  // A new bootstrap is a new stem image; the old one goes.
  p.Write("boot/python3/bootstrap.py", "PY v2");
  auto v2 = builder.BuildStem(spec::Runtime::kPython3);
  REQUIRE(v2.ok());
  CHECK_FALSE(v2->cached);
  CHECK(v2->ref != stem->ref);
  CHECK_FALSE(e.fake.InspectImage(stem->ref).ok());
  CHECK(e.fake.InspectImage(v2->ref).ok());
  CHECK(e.fake.InspectImage("gantry/python3:bookworm").ok());

  auto node = builder.BuildStem(spec::Runtime::kNode);
  REQUIRE_FALSE(node.ok());  // no node bootstrap in this project
  CHECK(node.error().code() == core::ErrorCode::kNotFound);
  CHECK(builder.BuildStem(spec::Runtime::kImage).error().code() ==
        core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::builder
