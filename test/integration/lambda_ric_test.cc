// Bring your own Lambda runtime (CTest label "integration"): AWS's own runtime interface
// client for node (aws-lambda-ric, installed by scripts/deps into a cache dir, its native
// addon compiled on the host) vendored into a function's source and run as
// `protocol: lambda` through a real gantryd, both as `runtime: dockerfile` and as
// `runtime: image` (an image the test builds, whose ENTRYPOINT is the client). The image
// builds need no network. Everything carries the test label and is removed by TestEngine.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "builder/bundle.h"
#include "docker/docker_client.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"
#include "support/tar.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Where scripts/deps installed the client (GANTRY_RIC_DIR overrides, as there).
fs::path RicPackage() {
  const char* dir = std::getenv("GANTRY_RIC_DIR");
  return fs::path(dir ? dir : "/var/cache/gantry/npm/aws-lambda-ric") / "node_modules" /
         "aws-lambda-ric";
}

// Vendors the client's run-time files (package.json, bin/, dist/ with the compiled addon)
// into `src`/node_modules: the rest of the package is its native build tree.
void VendorRic(const fs::path& src) {
  fs::path from = RicPackage();
  if (!fs::exists(from / "dist" / "rapid-client.node")) {
    FAIL("aws-lambda-ric is not installed at " << from.string() << ": run scripts/deps");
  }
  fs::path to = src / "node_modules" / "aws-lambda-ric";
  fs::create_directories(to);
  fs::copy_file(from / "package.json", to / "package.json");
  for (const char* dir : {"bin", "dist"}) {
    fs::copy(from / dir, to / dir, fs::copy_options::recursive | fs::copy_options::skip_symlinks);
  }
}

// A Lambda handler (the client's contract: event, context) that says who it is and when
// it ran; ?sleep=S waits S seconds first.
constexpr const char* kHandler = R"(exports.handler = async (event, context) => {
  const start = Date.now() / 1000;
  const sleep = Number((event.queryStringParameters || {}).sleep || 0);
  if (sleep) await new Promise((resolve) => setTimeout(resolve, sleep * 1000));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-runtime': 'aws-lambda-ric' },
    body: JSON.stringify({
      name: context.functionName, version: context.functionVersion,
      memory: context.memoryLimitInMB, arn: context.invokedFunctionArn,
      requestId: context.awsRequestId, path: event.rawPath, body: event.body,
      handler: process.env._HANDLER, api: process.env.AWS_LAMBDA_RUNTIME_API,
      start, end: Date.now() / 1000, pid: process.pid,
    }),
  };
};
)";

constexpr const char* kRicBin = "/var/task/node_modules/aws-lambda-ric/bin/index.mjs";

// Calls the function twice at once (each sleeping 1 s) and checks both were answered by
// the client, with the Lambda context of `name`, and ran at the same time.
void CheckLambdaFunction(Gantryd& gantryd, const std::string& name, const std::string& ns) {
  std::string invoke = "/function/" + name + "." + ns;
  Reply first = gantryd.Call("POST", invoke + "/hello?x=1", "payload", {}, false);
  INFO("gantryd log:\n" << gantryd.Log());
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-runtime"] == "aws-lambda-ric");
  json j = json::parse(first.body);
  CHECK(j["name"] == name);
  CHECK(j["version"] == "1");  // the generation
  CHECK(j["memory"] == "256");
  CHECK(j["arn"] == "arn:aws:lambda:local:000000000000:function:" + name);
  CHECK(j["path"] == "/hello");
  CHECK(j["body"] == "payload");
  CHECK(j["handler"] == "index.handler");
  CHECK(j["requestId"] == first.headers["x-call-id"]);

  auto a = std::async(std::launch::async,
                      [&] { return gantryd.Call("GET", invoke + "?sleep=1", "", {}, false); });
  auto b = std::async(std::launch::async,
                      [&] { return gantryd.Call("GET", invoke + "?sleep=1", "", {}, false); });
  Reply ra = a.get();
  Reply rb = b.get();
  REQUIRE(ra.status == 200);
  REQUIRE(rb.status == 200);
  json ja = json::parse(ra.body);
  json jb = json::parse(rb.body);
  std::printf("%s: intervals [%.3f, %.3f] [%.3f, %.3f]\n", name.c_str(), 0.0,
              ja["end"].get<double>() - ja["start"].get<double>(),
              jb["start"].get<double>() - ja["start"].get<double>(),
              jb["end"].get<double>() - ja["start"].get<double>());
  CHECK(std::max(ja["start"].get<double>(), jb["start"].get<double>()) <
        std::min(ja["end"].get<double>(), jb["end"].get<double>()));
  CHECK(ja["pid"] != jb["pid"]);  // one client process per call in flight
  CHECK(ja["api"] != jb["api"]);  // each its own Runtime API endpoint
}

constexpr const char* kLimits =
    "  concurrency: 2\n  scale: {max: 1}\n  resources: {memory: 256Mi}\n";

TEST_CASE("protocol lambda: aws-lambda-ric from a Dockerfile, through gantryd",
          "[integration][lambda]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "ric";
  fs::create_directories(src);
  VendorRic(src);
  std::ofstream(src / "index.js") << kHandler;
  std::ofstream(src / "Dockerfile")
      << "FROM gantry/node:bookworm\nWORKDIR /var/task\nCOPY . /var/task/\n"
      << "CMD [\"node\", \"" << kRicBin << "\", \"index.handler\"]\n";
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: ric\n"
         "spec:\n  runtime: dockerfile\n  source: .\n  protocol: lambda\n"
      << kLimits;
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Gantryd gantryd(engine, state.path());
  Reply applied =
      gantryd.Call("PUT", FunctionPath(fn), Bundle(fn), {"Content-Type: application/x-tar"});
  INFO("apply: " << applied.body << "\ngantryd log:\n" << gantryd.Log());
  REQUIRE(applied.status == 201);
  CheckLambdaFunction(gantryd, "ric", engine.value());
}

TEST_CASE("protocol lambda: an image whose ENTRYPOINT is aws-lambda-ric, through gantryd",
          "[integration][lambda]") {
  TestEngine engine;
  StateDir state(engine);
  fs::path src = state.path() / "img";
  fs::create_directories(src);
  VendorRic(src);
  std::ofstream(src / "index.js") << kHandler;
  // An image as a user brings it: the client as ENTRYPOINT, the handler as CMD.
  std::ofstream(src / "Dockerfile")
      << "FROM gantry/node:bookworm\nWORKDIR /var/task\nCOPY . /var/task/\n"
      << "ENTRYPOINT [\"node\", \"" << kRicBin << "\"]\nCMD [\"index.handler\"]\n";
  std::string tag = "gantry-test/ric-" + engine.value() + ":1";
  std::vector<TarEntry> entries;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    int mode = static_cast<int>(fs::status(e.path()).permissions() & fs::perms::all);
    entries.push_back({fs::relative(e.path(), src).string(), std::move(data), mode});
  }
  docker::BuildOptions build{.tags = {tag}};
  build.labels = engine.labels();
  auto built = docker::BuildImageFromTar(engine.client(), build, MakeTar(entries), nullptr);
  REQUIRE(built.ok());

  fs::path manifest = state.path() / "img.yaml";
  std::ofstream(manifest)
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: ricimg\n"
         "spec:\n  runtime: image\n  image: "
      << tag << "\n  protocol: lambda\n"
      << kLimits;
  auto fn = LoadFunctionInto(engine.value(), manifest);
  Gantryd gantryd(engine, state.path());
  Reply applied =
      gantryd.Call("PUT", FunctionPath(fn), Bundle(fn), {"Content-Type: application/x-tar"});
  INFO("apply: " << applied.body << "\ngantryd log:\n" << gantryd.Log());
  REQUIRE(applied.status == 201);
  CheckLambdaFunction(gantryd, "ricimg", engine.value());
}

}  // namespace
}  // namespace gantry::testing
