// The builder against the real engine (CTest label "integration"): every example builds and
// answers in a container; unchanged source is a cache hit (no POST /build, counted), under
// any function name (through gantryd too); a change makes a new tag; a failed step is
// named; ignored files stay out of the image. Every image and container carries the test's
// label, which is part of the content-addressed tag, so tests running at once never share
// an image.
#include "builder/builder.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gantryd_support.h"
#include "shim_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ShimReply;
using testing::TestEngine;

// Forwards to the real client, counting the builds it is asked for.
class CountingDockerClient final : public docker::DockerClient {
 public:
  explicit CountingDockerClient(docker::DockerClient& real) : real_(real) {}
  int builds() const { return builds_; }

  core::Status Ping() override { return real_.Ping(); }
  core::Result<docker::VersionInfo> Version() override { return real_.Version(); }
  core::Result<docker::EngineInfo> Info() override { return real_.Info(); }
  std::string ApiVersion() const override { return real_.ApiVersion(); }
  core::Result<std::string> BuildImage(const docker::BuildOptions& o, const docker::BodyReader& c,
                                       const docker::BuildProgressFn& p) override {
    ++builds_;
    return real_.BuildImage(o, c, p);
  }
  core::Result<docker::ImageInfo> InspectImage(std::string_view n) override {
    return real_.InspectImage(n);
  }
  core::Result<std::vector<docker::ImageInfo>> ListImages(const docker::LabelSelector& l) override {
    return real_.ListImages(l);
  }
  core::Status RemoveImage(std::string_view n, bool f) override { return real_.RemoveImage(n, f); }
  core::Result<std::string> ImportImage(const docker::ImportOptions& o,
                                        const docker::BodyReader& r) override {
    return real_.ImportImage(o, r);
  }
  core::Result<std::string> CreateContainer(const docker::ContainerSpec& s) override {
    return real_.CreateContainer(s);
  }
  core::Status StartContainer(std::string_view id) override { return real_.StartContainer(id); }
  core::Result<docker::ContainerInfo> InspectContainer(std::string_view id) override {
    return real_.InspectContainer(id);
  }
  core::Status StopContainer(std::string_view id, int t) override {
    return real_.StopContainer(id, t);
  }
  core::Status KillContainer(std::string_view id, std::string_view s) override {
    return real_.KillContainer(id, s);
  }
  core::Status RemoveContainer(std::string_view id, const docker::RemoveOptions& o) override {
    return real_.RemoveContainer(id, o);
  }
  core::Status PauseContainer(std::string_view id) override { return real_.PauseContainer(id); }
  core::Status UnpauseContainer(std::string_view id) override { return real_.UnpauseContainer(id); }
  core::Result<docker::WaitResult> WaitContainer(std::string_view id) override {
    return real_.WaitContainer(id);
  }
  core::Result<std::vector<docker::ContainerSummary>> ListContainers(const docker::LabelSelector& l,
                                                                     bool all) override {
    return real_.ListContainers(l, all);
  }
  core::Status Logs(std::string_view id, const docker::LogsOptions& o, const docker::LogLineFn& f,
                    std::stop_token s) override {
    return real_.Logs(id, o, f, std::move(s));
  }
  core::Result<std::string> CreateNetwork(const docker::NetworkSpec& n) override {
    return real_.CreateNetwork(n);
  }
  core::Result<docker::NetworkInfo> InspectNetwork(std::string_view n) override {
    return real_.InspectNetwork(n);
  }
  core::Result<std::vector<docker::NetworkInfo>> ListNetworks(
      const docker::LabelSelector& l) override {
    return real_.ListNetworks(l);
  }
  core::Status RemoveNetwork(std::string_view n) override { return real_.RemoveNetwork(n); }
  core::Status Events(const docker::EventsOptions& o, const docker::EventFn& f,
                      std::stop_token s) override {
    return real_.Events(o, f, std::move(s));
  }

 private:
  docker::DockerClient& real_;
  std::atomic<int> builds_{0};
};

BuilderOptions Options(const TestEngine& engine) {
  BuilderOptions o;
  o.templates.shim_path = GANTRY_SHIM_BINARY;
  o.templates.bootstrap_dir = std::string(GANTRY_SOURCE_DIR) + "/runtime-shim/bootstrap";
  o.extra_labels = engine.labels();
  return o;
}

spec::FunctionSpec LoadInto(const TestEngine& engine, const fs::path& manifest) {
  return testing::LoadFunctionInto(engine.value(), manifest);
}

spec::FunctionSpec Example(const TestEngine& engine, const std::string& name) {
  return testing::LoadExampleInto(engine.value(), name);
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One HTTP call to 127.0.0.1:port (libcurl).
ShimReply CallTcp(int port, const std::string& method, const std::string& target,
                  const std::string& body = "") {
  ShimReply reply;
  CURL* h = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + target;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  if (rc != CURLE_OK) reply.error = curl_easy_strerror(rc);
  curl_easy_cleanup(h);
  return reply;
}

// A built function running the way Gantry runs one: read-only root, no capabilities,
// no-new-privileges, tmpfs /tmp; the shim's socket in a bind-mounted host directory, or
// (for images serving HTTP themselves) a port published on 127.0.0.1.
class Running {
 public:
  // `env`: what the pool passes from spec.env (the builder bakes none of it in), after the
  // image's own container env (the handler).
  Running(TestEngine& engine, const BuiltImage& image, std::vector<std::string> env = {})
      : engine_(engine), http_port_(image.http_port) {
    for (const auto& [key, value] : image.env) env.insert(env.begin(), key + "=" + value);
    char dir_template[] = "/tmp/gantry-builder-test.XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    ::chmod(dir_.c_str(), 0777);  // functions run as nobody
    docker::ContainerSpec spec{.image = image.ref, .labels = engine.labels()};
    spec.env = std::move(env);
    spec.read_only_rootfs = true;
    spec.cap_drop = {"ALL"};
    spec.security_opt = {"no-new-privileges"};
    spec.pids_limit = 256;
    spec.mounts.push_back({.type = docker::Mount::Type::kTmpfs, .target = "/tmp"});
    if (http_port_ > 0) {
      spec.ports = {{.container_port = http_port_}};
    } else {
      spec.network_mode = "none";
      spec.mounts.push_back(
          {.type = docker::Mount::Type::kBind, .source = dir_, .target = kSocketDir});
    }
    auto id = engine.client().CreateContainer(spec);
    REQUIRE(id.ok());
    id_ = *id;
    REQUIRE(engine.client().StartContainer(id_).ok());
    if (http_port_ > 0) {
      auto info = engine.client().InspectContainer(id_);
      REQUIRE(info.ok());
      host_port_ = info->host_ports.at(std::to_string(http_port_) + "/tcp");
    }
  }
  ~Running() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  ShimReply Call(const std::string& method, const std::string& target,
                 const std::string& body = "") const {
    if (http_port_ > 0) return CallTcp(host_port_, method, target, body);
    return testing::CallUnix(dir_ + "/shim.sock", method, target, body);
  }

  // Until the function answers (the shim's /_/ready, or any HTTP answer); false after 30 s.
  bool WaitReady() const {
    for (auto until = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < until;) {
      ShimReply r = Call("GET", http_port_ > 0 ? "/" : "/_/ready");
      if (r.error.empty() && (http_port_ > 0 ? r.status > 0 : r.status == 200)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

 private:
  TestEngine& engine_;
  int http_port_;
  int host_port_ = 0;
  std::string dir_;
  std::string id_;
};

// Builds `spec` and starts it; REQUIREs both to work.
BuiltImage MustBuild(Builder& builder, const spec::FunctionSpec& spec) {
  std::vector<std::string> lines;
  auto built = builder.Build(spec, [&](std::string_view l) { lines.emplace_back(l); });
  if (!built.ok()) FAIL(built.error().ToString());
  CHECK_THAT(built->ref, Catch::StartsWith("gantry/fn:"));
  return *built;
}

TEST_CASE("the python3 and node examples build and answer", "[integration][builder]") {
  TestEngine engine;
  Builder builder(engine.client(), Options(engine));

  Running python(engine, MustBuild(builder, Example(engine, "hello-python")));
  Running node(engine, MustBuild(builder, Example(engine, "hello-node")));
  REQUIRE(python.WaitReady());
  // The greeting comes from each example's one dependency (installed at build from the
  // vendored wheel / tarball), the id and time from the standard library.
  auto p = python.Call("GET", "/?name=Ada");
  CHECK(p.status == 200);
  CHECK_THAT(p.body, Catch::Contains("\"message\"") && Catch::Contains("hello, Ada!"));
  CHECK_THAT(p.body, Catch::Matches(R"(.*"id": ?"[0-9a-f]{8}-[0-9a-f]{4}-.*)"));
  auto pj = python.Call("POST", "/", R"({"name": "Grace"})");
  CHECK_THAT(pj.body, Catch::Contains("hello, Grace!"));
  CHECK(python.Call("POST", "/", "{not json").status == 400);
  REQUIRE(node.WaitReady());
  auto n = node.Call("POST", "/", "Grace");
  CHECK(n.status == 200);
  CHECK_THAT(n.body, Catch::Contains("\"message\":\"hello, Grace!\""));
  CHECK_THAT(n.body, Catch::Matches(R"(.*"id":"[0-9a-f]{8}-[0-9a-f]{4}-.*)"));
  CHECK(node.Call("POST", "/", "{not json").status == 400);
}

TEST_CASE("the fetch-url example builds and says why a fetch failed", "[integration][builder]") {
  TestEngine engine;
  Builder builder(engine.client(), Options(engine));
  BuiltImage image = MustBuild(builder, Example(engine, "fetch-url"));
  // Offline here: nothing listens on the container's own port 9, so the fetch is refused
  // and the function answers 502 naming the URL (a fetch that works is the network tests').
  Running refused(engine, image, {"URL=http://127.0.0.1:9/", "FETCH_TIMEOUT=3"});
  Running unset(engine, image);
  REQUIRE(refused.WaitReady());
  auto r = refused.Call("GET", "/");
  CHECK(r.status == 502);
  CHECK_THAT(r.body, Catch::Contains("cannot fetch http://127.0.0.1:9/"));
  REQUIRE(unset.WaitReady());
  auto u = unset.Call("GET", "/");
  CHECK(u.status == 500);
  CHECK_THAT(u.body, Catch::Contains("URL environment variable is not set"));
}

TEST_CASE("the exec examples build and answer", "[integration][builder]") {
  TestEngine engine;
  Builder builder(engine.client(), Options(engine));
  Running echo(engine, MustBuild(builder, Example(engine, "echo")));
  Running wordcount(engine, MustBuild(builder, Example(engine, "wordcount")));
  REQUIRE(echo.WaitReady());
  CHECK(echo.Call("POST", "/", "hi there\n").body == "hi there\n");
  REQUIRE(wordcount.WaitReady());
  auto w = wordcount.Call("POST", "/", "The cat and the hat, and THE bat.");
  CHECK(w.status == 200);
  CHECK(w.body == "3 the\n2 and\n1 bat\n1 cat\n1 hat\n");
}

TEST_CASE("the custom Dockerfile and the CSV example build and answer", "[integration][builder]") {
  TestEngine engine;
  Builder builder(engine.client(), Options(engine));
  BuiltImage custom_image = MustBuild(builder, Example(engine, "custom-dockerfile"));
  CHECK(custom_image.http_port == 8080);
  Running custom(engine, custom_image);
  Running csv(engine, MustBuild(builder, Example(engine, "csv-aggregate")));
  REQUIRE(custom.WaitReady());
  auto t = custom.Call("GET", "/time");
  CHECK(t.status == 200);
  CHECK_THAT(t.body, Catch::Matches(R"(\{"now":"20\d\d-.*Z"\})"));
  CHECK_THAT(custom.Call("POST", "/x?y=1", "data").body, Catch::Contains("\"body\":\"data\""));

  std::ifstream sample(fs::path(GANTRY_SOURCE_DIR) / "examples/csv-aggregate/sales.csv");
  std::stringstream csv_text;
  csv_text << sample.rdbuf();
  REQUIRE(csv.WaitReady());
  auto agg = csv.Call("POST", "/?by=region", csv_text.str());
  CHECK(agg.status == 200);
  CHECK_THAT(agg.body,
             Catch::Contains("\"north\":{\"count\":2,\"sum\":{\"units\":13,\"revenue\":159.5}"));
  CHECK_THAT(agg.body, Catch::Contains("\"rows\":5"));
  auto bad = csv.Call("POST", "/?by=colour", csv_text.str());
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("no column \\\"colour\\\""));
}

// A scratch function directory: an exec function that lists its own source.
class Scratch {
 public:
  explicit Scratch(const TestEngine& engine)
      : dir_(fs::temp_directory_path() / engine.Name("src")) {
    fs::create_directories(dir_ / "src");
    Write("gantry.yaml",
          "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: lister\nspec:\n"
          "  runtime: exec\n  command: [\"ls\", \"-A\", \"/var/task\"]\n  source: ./src\n");
    Write("src/keep.txt", "kept " + engine.value());
    Write("src/drop.csv", "a,b");
    Write("src/.gantryignore", "*.csv\n");
  }
  ~Scratch() { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) const {
    std::ofstream(dir_ / rel) << text;
  }
  fs::path manifest() const { return dir_ / "gantry.yaml"; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

TEST_CASE("unchanged source is a cache hit: no POST /build", "[integration][builder]") {
  TestEngine engine;
  CountingDockerClient counting(engine.client());
  Builder builder(counting, Options(engine));
  Scratch scratch(engine);
  auto spec = LoadInto(engine, scratch.manifest());

  BuiltImage first = MustBuild(builder, spec);
  CHECK_FALSE(first.cached);
  CHECK(counting.builds() == 1);
  BuiltImage second = MustBuild(builder, LoadInto(engine, scratch.manifest()));
  CHECK(second.cached);
  CHECK(second.ref == first.ref);
  CHECK(second.id == first.id);
  CHECK(counting.builds() == 1);  // the engine was not asked to build again

  // The ignored file is not in the image; .gantryignore itself isn't either.
  Running lister(engine, first);
  REQUIRE(lister.WaitReady());
  CHECK(lister.Call("GET", "/").body == "keep.txt\n");
}

TEST_CASE("a changed file changes the tag, and unused images are removed",
          "[integration][builder]") {
  TestEngine engine;
  BuilderOptions options = Options(engine);
  options.keep_unused = 1;
  CountingDockerClient counting(engine.client());
  Builder builder(counting, options);
  Scratch scratch(engine);
  auto spec = LoadInto(engine, scratch.manifest());
  auto tag1 = builder.Tag(spec);
  REQUIRE(tag1.ok());
  // Changing an ignored file changes nothing.
  scratch.Write("src/drop.csv", "changed,but,ignored");
  CHECK(*builder.Tag(spec) == *tag1);

  std::vector<std::string> refs;
  for (int i = 0; i < 4; ++i) {
    scratch.Write("src/keep.txt", "version " + std::to_string(i));
    refs.push_back(MustBuild(builder, spec).ref);
    std::this_thread::sleep_for(1100ms);  // image creation times are in whole seconds
  }
  CHECK(counting.builds() == 4);
  CHECK(std::set<std::string>(refs.begin(), refs.end()).size() == 4);
  CHECK(refs[0] != *tag1);

  // refs[3] in use, refs[2] the newest unused (kept), the two before it removed.
  CHECK(builder.RemoveUnused({refs[3]}) == 2);
  auto left = engine.client().ListImages({engine.selector()});
  REQUIRE(left.ok());
  std::set<std::string> tags;
  for (const auto& image : *left) tags.insert(image.repo_tags.begin(), image.repo_tags.end());
  CHECK(tags == std::set<std::string>{refs[2], refs[3]});
}

TEST_CASE("the same source under a second name is not built again", "[integration][builder]") {
  TestEngine engine;
  CountingDockerClient counting(engine.client());
  Builder builder(counting, Options(engine));
  Scratch scratch(engine);
  BuiltImage first = MustBuild(builder, LoadInto(engine, scratch.manifest()));
  scratch.Write("renamed.yaml",
                "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: lister-two\nspec:\n"
                "  runtime: exec\n  command: [\"ls\", \"-A\", \"/var/task\"]\n  source: ./src\n");
  BuiltImage second = MustBuild(builder, LoadInto(engine, scratch.dir() / "renamed.yaml"));
  CHECK(second.cached);
  CHECK(second.id == first.id);
  CHECK(counting.builds() == 1);
}

// Two functions over one source directory (source: .), each manifest in it; the handler
// says which function it is and which handler, from its container's environment.
class TwoNames {
 public:
  explicit TwoNames(const TestEngine& engine)
      : dir_(fs::temp_directory_path() / engine.Name("two")) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "handler.py")
        << "import os\n\n"
           "def who(req):\n"
           "    return os.environ['AWS_LAMBDA_FUNCTION_NAME'] + ' ' + "
           "os.environ['_HANDLER']\n\n"
           "also = who\n";
    for (const auto& [name, handler] :
         {std::pair{"one", "handler.who"}, std::pair{"two", "handler.also"}}) {
      std::ofstream(dir_ / (std::string(name) + ".gantry.yaml"))
          << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: " << name
          << "\nspec:\n  runtime: python3\n  handler: " << handler << "\n  source: .\n";
    }
  }
  ~TwoNames() { fs::remove_all(dir_); }
  spec::FunctionSpec Spec(const TestEngine& engine, const std::string& name) const {
    return testing::LoadFunctionInto(engine.value(), dir_ / (name + ".gantry.yaml"));
  }

 private:
  fs::path dir_;
};

TEST_CASE(
    "gantryd: applying the same source under a second name builds nothing, each name is its own",
    "[integration][builder][gantryd]") {
  TestEngine engine;
  TwoNames source(engine);
  char state_template[] = "/tmp/gantry-builder-gantryd.XXXXXX";
  REQUIRE(::mkdtemp(state_template) != nullptr);
  const fs::path state = state_template;
  auto one = source.Spec(engine, "one");
  auto two = source.Spec(engine, "two");
  {
    testing::Gantryd gantryd(engine, state);
    testing::Reply a = gantryd.Call("PUT", testing::FunctionPath(one), testing::Bundle(one));
    INFO(a.body << "\n" << gantryd.Log());
    REQUIRE(a.status == 201);
    CHECK(a.Json()["built"] == true);
    testing::Reply b = gantryd.Call("PUT", testing::FunctionPath(two), testing::Bundle(two));
    INFO(b.body);
    REQUIRE(b.status == 201);
    CHECK(b.Json()["built"] == false);  // no POST /build: the image exists
    CHECK(b.Json()["image"] == a.Json()["image"]);
    CHECK_THAT(gantryd.Call("GET", "/metrics").body,
               Catch::Contains("gantry_builds_total{outcome=\"cached\"} 1"));
    const std::string ns = engine.value();
    CHECK(gantryd.Call("GET", "/function/one." + ns, "", {}, false).body == "one handler.who");
    CHECK(gantryd.Call("GET", "/function/two." + ns, "", {}, false).body == "two handler.also");

    // Deleting one leaves the image the other still runs.
    REQUIRE(gantryd.Call("DELETE", testing::FunctionPath(one)).status == 200);
    CHECK(engine.client().InspectImage(a.Json()["image"].get<std::string>()).ok());
    CHECK(gantryd.Call("GET", "/function/two." + ns, "", {}, false).body == "two handler.also");
    // Deleting the last one removes it.
    REQUIRE(gantryd.Call("DELETE", testing::FunctionPath(two)).status == 200);
    auto left =
        engine.client().ListImages({engine.selector(), "gantry.instance=" + gantryd.InstanceId()});
    REQUIRE(left.ok());
    CHECK(left->empty());
  }
  testing::UnmountAllBelow(state.string());
  fs::remove_all(state);
}

TEST_CASE("a failing build names the failing step and its output", "[integration][builder]") {
  TestEngine engine;
  Builder builder(engine.client(), Options(engine));
  fs::path dir = fs::temp_directory_path() / engine.Name("broken");
  fs::create_directories(dir / "src");
  std::ofstream(dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: broken\n"
         "spec:\n  runtime: dockerfile\n  source: ./src\n";
  std::ofstream(dir / "src/Dockerfile")
      << "FROM gantry/base:bookworm\nRUN echo compiling things && exit 3\n";
  auto built = builder.Build(LoadInto(engine, dir / "gantry.yaml"));
  fs::remove_all(dir);
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(built.error().message(),
             Catch::StartsWith("build " + engine.value() + "/broken: POST /build: step 2/") &&
                 Catch::Contains("\"RUN echo compiling things && exit 3\" failed") &&
                 Catch::Contains("returned a non-zero code: 3") &&
                 Catch::EndsWith("\n  compiling things"));
}

TEST_CASE("runtime image builds nothing and a missing image is named", "[integration][builder]") {
  TestEngine engine;
  CountingDockerClient counting(engine.client());
  Builder builder(counting, Options(engine));
  fs::path dir = fs::temp_directory_path() / engine.Name("image");
  fs::create_directories(dir);
  std::ofstream(dir / "present.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: present\n"
         "spec:\n  runtime: image\n  image: gantry/base:bookworm\n  port: 9000\n";
  std::ofstream(dir / "missing.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: missing\n"
         "spec:\n  runtime: image\n  image: gantry-test/none:1\n";
  auto present = builder.Build(LoadInto(engine, dir / "present.yaml"));
  auto missing = builder.Build(LoadInto(engine, dir / "missing.yaml"));
  fs::remove_all(dir);
  REQUIRE(present.ok());
  CHECK(present->cached);
  CHECK(present->ref == "gantry/base:bookworm");
  CHECK(present->http_port == 9000);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == core::ErrorCode::kNotFound);
  CHECK_THAT(missing.error().message(),
             Catch::Contains("gantry-test/none:1 is not on this engine"));
  CHECK(counting.builds() == 0);
}

}  // namespace
}  // namespace gantry::builder
