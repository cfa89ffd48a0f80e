// gantry-bench-build: how long one example takes to become an image, three ways, n times:
//   cold      first build, engine layer cache off (what a new function pays);
//   rebuild   same context under a new tag (another gantry.bench-round label: labels are
//             part of the content-addressed tag), engine layer cache on;
//   unchanged the tag exists: the builder only asks the engine whether it does (no build);
// and, when the example declares dependencies (requirements.txt, package.json):
//   code      a code file changed, dependencies not: the install layer comes from the cache;
//   deps      the dependency file changed: the install runs again.
// The example is copied to a scratch directory first (code and deps edit the copy).
// Every image carries gantry.bench and is removed at the end.
//
//   gantry-bench-build --example examples/hello-python --shim build/bin/gantry-shim.stripped
//                      --bootstrap runtime-shim/bootstrap [-n 5]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "builder/builder.h"
#include "docker/curl_docker_client.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string example, shim, bootstrap;
  int n = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--example") {
      example = argv[i + 1];
    } else if (a == "--shim") {
      shim = argv[i + 1];
    } else if (a == "--bootstrap") {
      bootstrap = argv[i + 1];
    } else if (a == "-n") {
      n = std::max(1, std::atoi(argv[i + 1]));
    }
  }
  if (example.empty() || shim.empty() || bootstrap.empty()) {
    std::fprintf(stderr,
                 "usage: gantry-bench-build --example DIR --shim FILE --bootstrap DIR [-n N]\n");
    return 2;
  }
  auto client = gantry::docker::CurlDockerClient::Connect();
  if (!client) {
    std::fprintf(stderr, "bench-build: %s\n", client.error().ToString().c_str());
    return 1;
  }
  std::string label = "build-" + std::to_string(getpid());
  std::string original = example;
  gantry::builder::BuilderOptions options;
  options.templates.shim_path = shim;
  options.templates.bootstrap_dir = bootstrap;
  options.extra_labels = {{"gantry.bench", label}};

  fs::path scratch = fs::temp_directory_path() / ("gantry-bench-" + label);
  std::error_code ec;
  fs::copy(example, scratch, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    std::fprintf(stderr, "bench-build: copy %s: %s\n", example.c_str(), ec.message().c_str());
    return 1;
  }
  example = scratch.string();
  fs::path manifest = fs::path(example) / "gantry.yaml";
  std::stringstream text;
  text << std::ifstream(manifest).rdbuf();
  // Tags are content-addressed (a namespace or name changes nothing): each round's images
  // carry a gantry.bench-round label of their own, so every tag starts out absent.
  auto load = [&](const std::string& ns) {
    std::string yaml = std::regex_replace(text.str(), std::regex("\nmetadata:\n"),
                                          "\nmetadata:\n  namespace: " + ns + "\n");
    gantry::manifest::LocalFileSystem local;
    auto loaded = gantry::manifest::LoadManifestText(local, yaml, manifest.string(), example, {});
    if (!loaded.ok() || loaded.objects.size() != 1) {
      std::fprintf(stderr, "bench-build: %s does not load\n", manifest.c_str());
      std::exit(1);
    }
    return std::get<gantry::spec::FunctionSpec>(loaded.objects[0].object);
  };

  // Where the function's code and dependency declaration are (spec.source, relative).
  fs::path source = fs::path(load("bench-probe").source_path());
  fs::path code;
  for (const auto& entry : fs::directory_iterator(source)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".py" || ext == ".js" || ext == ".sh"))
      code = entry.path();
  }
  fs::path deps = fs::exists(source / "requirements.txt") ? source / "requirements.txt"
                  : fs::exists(source / "package.json")   ? source / "package.json"
                                                          : fs::path();
  std::vector<const char*> ways = {"cold", "rebuild", "unchanged"};
  if (!deps.empty() && !code.empty()) {
    ways.push_back("code");
    ways.push_back("deps");
  }
  // A change that means nothing to the program: a comment, or an unused package.json key.
  auto touch = [](const fs::path& file, int i) {
    if (file.extension() == ".json") {
      std::stringstream in;
      in << std::ifstream(file).rdbuf();
      nlohmann::json j = nlohmann::json::parse(in.str());
      j["gantryBench"] = i;
      std::ofstream(file) << j.dump(2) << "\n";
    } else {
      std::ofstream(file, std::ios::app)
          << (file.extension() == ".js" ? "// bench " : "# bench ") << i << "\n";
    }
  };

  std::map<std::string, std::vector<double>> ms;
  bool failed = false;
  for (int i = 0; i < n && !failed; ++i) {
    for (const char* way : ways) {
      if (std::string(way) == "code") touch(code, i);
      if (std::string(way) == "deps") touch(deps, i);
      gantry::builder::BuilderOptions o = options;
      o.no_cache = std::string(way) == "cold";
      o.extra_labels["gantry.bench-round"] =
          (std::string(way) == "rebuild" ? "r" : "c") + std::to_string(i);
      gantry::builder::Builder builder(**client, o);
      auto spec = load("bench-" + label);
      auto t0 = Clock::now();
      auto built = builder.Build(spec);
      double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (!built) {
        std::fprintf(stderr, "bench-build: %s\n", built.error().ToString().c_str());
        failed = true;
        break;
      }
      if (built->cached != (std::string(way) == "unchanged") && std::string(way) != "code" &&
          std::string(way) != "deps") {
        std::fprintf(stderr, "bench-build: %s build was %scached\n", way,
                     built->cached ? "" : "not ");
        failed = true;
      }
      ms[way].push_back(elapsed);
    }
  }
  if (auto images = (*client)->ListImages({"gantry.bench=" + label})) {
    for (const auto& image : *images) (void)(*client)->RemoveImage(image.id, true);
  }
  fs::remove_all(scratch, ec);
  if (failed) return 1;
  std::printf("build of %s, n=%d per row\n\n%-10s %10s\n", original.c_str(), n, "way", "median ms");
  for (const char* way : ways) std::printf("%-10s %10.1f\n", way, Median(ms[way]));
  if (ways.size() > 3) {
    std::printf(
        "\ncode change (install cached) / dependency change (install runs): %.1f / %.1f ms\n",
        Median(ms["code"]), Median(ms["deps"]));
  } else {
    std::printf("\n(no requirements.txt or package.json in %s: no code/deps rows)\n",
                original.c_str());
  }
  std::printf("\ncold / unchanged: %.0fx\n",
              Median(ms["cold"]) / std::max(Median(ms["unchanged"]), 0.001));
  return 0;
}
