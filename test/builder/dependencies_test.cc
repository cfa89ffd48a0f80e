#include "builder/dependencies.h"

#include <catch2/catch.hpp>

namespace gantry::builder {
namespace {

BuildContext Source(std::initializer_list<std::pair<std::string, std::string>> files) {
  BuildContext c;
  for (const auto& [path, content] : files) {
    if (!path.empty() && path.back() == '/') {
      c.AddDirectoryEntry("function/" + path.substr(0, path.size() - 1));
    } else {
      c.AddFile("function/" + path, content);
    }
  }
  return c;
}

TEST_CASE("no declared dependencies, no step", "[builder][deps]") {
  auto py = PlanDependencies(spec::Runtime::kPython3, Source({{"handler.py", ""}}), {});
  REQUIRE(py.ok());
  CHECK(py->installer.empty());
  CHECK(py->dockerfile.empty());
  auto exec = PlanDependencies(spec::Runtime::kExec, Source({{"requirements.txt", "x\n"}}), {});
  REQUIRE(exec.ok());
  CHECK(exec->installer.empty());
}

TEST_CASE("python3: requirements and the local paths they name are copied before the install",
          "[builder][deps]") {
  auto step = PlanDependencies(
      spec::Runtime::kPython3,
      Source({{"requirements.txt",
               "--no-index --find-links ./wheels\n-r more.txt\nrequests==2.0 # pinned\n"},
              {"more.txt", "-c constraints.txt\n./vendor/tiny-1.0.tar.gz\n"},
              {"constraints.txt", ""},
              {"vendor/tiny-1.0.tar.gz", "TGZ"},
              {"wheels/", ""},
              {"wheels/tiny-1.0-py3-none-any.whl", "WHL"},
              {"handler.py", "import requests\n"}}),
      {{"PIP_INDEX_URL", "http://10.0.0.1/simple"}, {"npm_config_registry", "http://x/"}});
  REQUIRE(step.ok());
  CHECK(step->installer == "pip install");
  const std::string& df = step->dockerfile;
  CHECK_THAT(df, Catch::Contains(
                     "COPY [\"function/requirements.txt\", \"/var/task/requirements.txt\"]\n"));
  CHECK_THAT(df, Catch::Contains("COPY [\"function/more.txt\", \"/var/task/more.txt\"]\n"));
  CHECK_THAT(
      df, Catch::Contains("COPY [\"function/constraints.txt\", \"/var/task/constraints.txt\"]\n"));
  CHECK_THAT(
      df, Catch::Contains(
              "COPY [\"function/vendor/tiny-1.0.tar.gz\", \"/var/task/vendor/tiny-1.0.tar.gz\"]"));
  CHECK_THAT(df, Catch::Contains("COPY [\"function/wheels/\", \"/var/task/wheels/\"]\n"));
  // Only the declaration and its inputs: the code comes later, in a layer of its own.
  CHECK_THAT(df, !Catch::Contains("handler.py") && !Catch::Contains("COPY function/ "));
  CHECK_THAT(df, Catch::Contains("--target /opt/gantry/deps/python -r requirements.txt"));
  CHECK_THAT(df, Catch::EndsWith(step->run + "\n"));
  // The installer's settings are build args of its own kind only, not ENV in the image.
  CHECK_THAT(df, Catch::Contains("ARG PIP_INDEX_URL\n") && !Catch::Contains("npm_config") &&
                     !Catch::Contains("ENV"));
  CHECK(step->build_args ==
        std::map<std::string, std::string>{{"PIP_INDEX_URL", "http://10.0.0.1/simple"}});
}

TEST_CASE("python3: paths out of the tree or absent are left to pip", "[builder][deps]") {
  auto step = PlanDependencies(
      spec::Runtime::kPython3,
      Source({{"requirements.txt",
               "-f ../../etc\n--find-links=/srv/wheels\n-r nothere.txt\nhttp://x/a.whl\n"}}),
      {});
  REQUIRE(step.ok());
  CHECK(step->installer == "pip install");
  CHECK_THAT(step->dockerfile,
             !Catch::Contains("etc") && !Catch::Contains("srv") && !Catch::Contains("nothere"));
}

TEST_CASE("node: package.json, the lock (npm ci) and file: tarballs, production only",
          "[builder][deps]") {
  auto with_lock = PlanDependencies(
      spec::Runtime::kNode,
      Source({{"package.json",
               R"({"dependencies": {"tiny": "file:vendor/tiny-1.0.0.tgz", "up": "file:../x.tgz"},
                                   "devDependencies": {"dev": "file:dev.tgz"}})"},
              {"package-lock.json", "{}"},
              {"vendor/tiny-1.0.0.tgz", "TGZ"},
              {"dev.tgz", "TGZ"},
              {"handler.js", ""}}),
      {{"npm_config_registry", "http://10.0.0.1:4873/"}, {"PIP_INDEX_URL", "x"}});
  REQUIRE(with_lock.ok());
  CHECK(with_lock->installer == "npm ci");
  const std::string& df = with_lock->dockerfile;
  CHECK_THAT(df, Catch::Contains(
                     "COPY [\"function/package.json\", \"/opt/gantry/deps/node/package.json\"]\n"));
  CHECK_THAT(
      df,
      Catch::Contains(
          "COPY [\"function/package-lock.json\", \"/opt/gantry/deps/node/package-lock.json\"]"));
  CHECK_THAT(df, Catch::Contains("\"/opt/gantry/deps/node/vendor/tiny-1.0.0.tgz\""));
  CHECK_THAT(df, !Catch::Contains("dev.tgz") && !Catch::Contains("handler.js") &&
                     !Catch::Contains("x.tgz"));
  CHECK_THAT(df, Catch::Contains("npm ci --omit=dev"));
  CHECK_THAT(df, Catch::Contains("ARG npm_config_registry\n") && !Catch::Contains("PIP_"));

  auto no_lock = PlanDependencies(spec::Runtime::kNode, Source({{"package.json", "{}"}}), {});
  REQUIRE(no_lock.ok());
  CHECK(no_lock->installer == "npm install");
  CHECK_THAT(no_lock->dockerfile, Catch::Contains("npm install --omit=dev"));

  auto bad = PlanDependencies(spec::Runtime::kNode, Source({{"package.json", "[1,"}}), {});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("package.json"));
}

TEST_CASE("a failed install names the package and shows the installer's last lines",
          "[builder][deps]") {
  std::string pip_error =
      "step 3/12 \"RUN cd /var/task && python3 -m pip install -r requirements.txt\" failed: The "
      "command "
      "'/bin/sh -c cd /var/task' returned a non-zero code: 1\n"
      "output of the failing step (last lines):\n"
      "  Looking in links: ./wheels\n"
      "  ERROR: Could not find a version that satisfies the requirement nosuchpkg==1.0 (from "
      "versions: none)\n"
      "  ERROR: No matching distribution found for nosuchpkg==1.0";
  std::string pip = DescribeInstallFailure("pip install", pip_error);
  CHECK_THAT(pip,
             Catch::StartsWith("pip install: No matching distribution found for nosuchpkg==1.0\n"));
  CHECK_THAT(pip, Catch::Contains("last lines of pip's output:\n  Looking in links: ./wheels\n"));

  std::string npm_error =
      "step 3/9 \"RUN cd /opt/gantry/deps/node && npm install\" failed: returned a non-zero code: "
      "254\n"
      "output of the failing step (last lines):\n"
      "  npm ERR! code ENOENT\n  npm ERR! syscall open\n  npm ERR! path "
      "/opt/gantry/deps/node/nosuch.tgz\n"
      "  npm ERR! enoent ENOENT: no such file or directory, open "
      "'/opt/gantry/deps/node/nosuch.tgz'\n"
      "  npm ERR! A complete log of this run can be found in: /root/.npm/_logs/x.log";
  CHECK_THAT(DescribeInstallFailure("npm install", npm_error),
             Catch::StartsWith("npm install: enoent ENOENT: no such file or directory, open "
                               "'/opt/gantry/deps/node/nosuch.tgz'\nlast lines of npm's output:"));

  // As the engine sends it: stderr coloured, its own bookkeeping last.
  std::string coloured =
      "step 1/9 \"RUN x\" failed: returned a non-zero code: 1\noutput of the failing step (last "
      "lines):\n"
      "  \x1b[91mERROR: No matching distribution found for nosuchpkg==1.0\n  \x1b[0mRemoving "
      "intermediate container f8e7";
  CHECK(DescribeInstallFailure("pip install", coloured) ==
        "pip install: No matching distribution found for nosuchpkg==1.0\nlast lines of pip's "
        "output:\n"
        "  ERROR: No matching distribution found for nosuchpkg==1.0");

  // Nothing recognisable: the engine's own words.
  CHECK(DescribeInstallFailure("pip install", "step 3/9 \"RUN x\" failed: killed") ==
        "pip install: killed");
}

}  // namespace
}  // namespace gantry::builder
