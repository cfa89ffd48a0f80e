#include "builder/templates.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

// A scratch directory with a manifest and its source; yields the validated spec.
class Project {
 public:
  Project() {
    dir_ = fs::temp_directory_path() /
           ("gantry-tpl-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_ / "src");
    std::ofstream(dir_ / "shim") << "SHIM";
    fs::create_directories(dir_ / "boot/python3");
    fs::create_directories(dir_ / "boot/node");
    std::ofstream(dir_ / "boot/python3/bootstrap.py") << "PY";
    std::ofstream(dir_ / "boot/node/bootstrap.js") << "JS";
  }
  ~Project() { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ / rel) << content;
  }

  spec::FunctionSpec Spec(const std::string& spec_yaml) {
    Write("f.yaml",
          "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: fn}\nspec:\n" + spec_yaml);
    manifest::LocalFileSystem fs;
    auto loaded = manifest::LoadManifests(fs, {(dir_ / "f.yaml").string()}, {});
    for (const auto& e : loaded.errors) FAIL_CHECK(e.ToString());
    REQUIRE(loaded.objects.size() == 1);
    return std::get<spec::FunctionSpec>(loaded.objects[0].object);
  }

  TemplateOptions Options() const {
    TemplateOptions o;
    o.shim_path = (dir_ / "shim").string();
    o.bootstrap_dir = (dir_ / "boot").string();
    return o;
  }

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

std::map<std::string, std::string> Files(const BuildPlan& plan) {
  auto tar = plan.context.Tar();
  REQUIRE(tar.ok());
  std::map<std::string, std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar->data(), tar->size());
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string content;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
      content.append(buf, static_cast<std::size_t>(n));
    if (archive_entry_filetype(e) == AE_IFREG) out[archive_entry_pathname(e)] = content;
  }
  archive_read_free(a);
  return out;
}

TEST_CASE("python3 template: base, shim, bootstrap, source, non-root, runtime-api",
          "[builder][templates]") {
  Project p;
  p.Write("src/handler.py", "def main(req): return 'hi'\n");
  auto plan = PlanBuild(p.Spec("  runtime: python3\n  handler: handler.main\n  source: ./src\n"),
                        p.Options());
  REQUIRE(plan.ok());
  CHECK(plan->dockerfile == "Dockerfile");
  CHECK(plan->http_port == 0);
  auto files = Files(*plan);
  CHECK(files["gantry-shim"] == "SHIM");
  CHECK(files["bootstrap.py"] == "PY");
  CHECK(files["function/handler.py"] == "def main(req): return 'hi'\n");
  const std::string& df = files["Dockerfile"];
  CHECK_THAT(df, Catch::StartsWith("FROM gantry/python3:bookworm\n"));
  CHECK_THAT(df, Catch::Contains("COPY function/ /var/task/\n"));
  // The handler is the container's (images are shared across functions), not the image's.
  CHECK_THAT(df, !Catch::Contains("_HANDLER"));
  CHECK(plan->container_env == std::map<std::string, std::string>{{"_HANDLER", "handler.main"}});
  CHECK(plan->base_image == "gantry/python3:bookworm");
  CHECK_THAT(df, Catch::Contains("USER 65534:65534\n"));
  CHECK_THAT(df, Catch::Contains("ENV GANTRY_MODE=runtime-api\n"));
  CHECK_THAT(df, Catch::Contains("ENTRYPOINT [\"/usr/local/bin/gantry-shim\"]\n"));
  CHECK_THAT(df, Catch::Contains("CMD [\"--\",\"python3\",\"/opt/gantry/bootstrap.py\"]\n"));
}

TEST_CASE("template images leave the source's Gantry manifests out (they name the function)",
          "[builder][templates]") {
  Project p;
  p.Write("src/handler.py", "x = 1\n");
  p.Write("src/gantry.yaml", "metadata: {name: fn}\n");
  fs::create_directories(fs::path(p.Options().shim_path).parent_path() / "src/sub");
  p.Write("src/sub/other.gantry.yaml", "metadata: {name: other}\n");
  p.Write("src/config.yaml", "kept: true\n");
  const std::string yaml = "  runtime: python3\n  handler: handler.main\n  source: ./src\n";
  auto plan = PlanBuild(p.Spec(yaml), p.Options());
  REQUIRE(plan.ok());
  auto files = Files(*plan);
  CHECK(files.count("function/handler.py") == 1);
  CHECK(files.count("function/config.yaml") == 1);
  CHECK(files.count("function/gantry.yaml") == 0);
  CHECK(files.count("function/sub/other.gantry.yaml") == 0);
  // The source's own ignore file can bring one back.
  p.Write("src/.gantryignore", "!gantry.yaml\n");
  auto again = PlanBuild(p.Spec(yaml), p.Options());
  REQUIRE(again.ok());
  CHECK(Files(*again).count("function/gantry.yaml") == 1);
}

TEST_CASE("node template uses the node base and bootstrap", "[builder][templates]") {
  Project p;
  p.Write("src/handler.js", "exports.main = async () => 'hi';\n");
  TemplateOptions o = p.Options();
  o.base_images[spec::Runtime::kNode] = "node:20-slim";  // a registry image elsewhere
  auto plan = PlanBuild(p.Spec("  runtime: node\n  handler: handler.main\n  source: ./src\n"), o);
  REQUIRE(plan.ok());
  auto files = Files(*plan);
  CHECK(files["bootstrap.js"] == "JS");
  CHECK_THAT(files["Dockerfile"], Catch::StartsWith("FROM node:20-slim\n"));
  CHECK_THAT(files["Dockerfile"],
             Catch::Contains("CMD [\"--\",\"node\",\"/opt/gantry/bootstrap.js\"]"));
  CHECK_THAT(files["Dockerfile"], !Catch::Contains("PYTHON"));
}

TEST_CASE("python3/node templates install declared dependencies first, in a layer before the code",
          "[builder][templates]") {
  Project p;
  p.Write("src/handler.py", "import tinydep\n");
  p.Write("src/requirements.txt", "tinydep==1.0\n");
  TemplateOptions o = p.Options();
  o.install_env = {{"PIP_INDEX_URL", "http://127.0.0.1:3141/simple"}};
  auto plan =
      PlanBuild(p.Spec("  runtime: python3\n  handler: handler.main\n  source: ./src\n"), o);
  REQUIRE(plan.ok());
  CHECK(plan->installer == "pip install");
  CHECK(plan->build_args ==
        std::map<std::string, std::string>{{"PIP_INDEX_URL", "http://127.0.0.1:3141/simple"}});
  std::string df = Files(*plan)["Dockerfile"];
  std::size_t install = df.find(plan->install_run);
  REQUIRE(install != std::string::npos);
  CHECK(install < df.find("COPY gantry-shim"));
  CHECK(install < df.find("COPY function/ /var/task/"));
  CHECK_THAT(df, Catch::Contains("PYTHONPATH=/opt/gantry/deps/python"));

  p.Write("src/handler.js", "require('tiny');\n");
  p.Write("src/package.json", "{\"dependencies\": {\"tiny\": \"1.0.0\"}}");
  auto node =
      PlanBuild(p.Spec("  runtime: node\n  handler: handler.main\n  source: ./src\n"), p.Options());
  REQUIRE(node.ok());
  CHECK(node->installer == "npm install");
  std::string ndf = Files(*node)["Dockerfile"];
  CHECK(ndf.find(node->install_run) < ndf.find("COPY function/ /var/task/"));
  CHECK_THAT(ndf, Catch::Contains("ENV NODE_PATH=/opt/gantry/deps/node/node_modules\n"));

  // Without a declaration there is no step at all.
  p.Write("src/requirements.txt", "");
  std::filesystem::remove(std::filesystem::path(p.Options().shim_path).parent_path() /
                          "src/requirements.txt");
  auto bare = PlanBuild(p.Spec("  runtime: python3\n  handler: handler.main\n  source: ./src\n"),
                        p.Options());
  REQUIRE(bare.ok());
  CHECK(bare->installer.empty());
  CHECK_THAT(Files(*bare)["Dockerfile"], !Catch::Contains("pip"));
}

TEST_CASE("exec template runs the command through the shim, with or without source",
          "[builder][templates]") {
  Project p;
  auto bare = PlanBuild(p.Spec("  runtime: exec\n  command: [\"sh\", \"-c\", \"echo 'a b'\"]\n"),
                        p.Options());
  REQUIRE(bare.ok());
  auto files = Files(*bare);
  CHECK_THAT(files["Dockerfile"], Catch::StartsWith("FROM gantry/base:bookworm\n"));
  CHECK_THAT(files["Dockerfile"], Catch::Contains("ENV GANTRY_MODE=exec\n"));
  CHECK_THAT(files["Dockerfile"], Catch::Contains("CMD [\"--\",\"sh\",\"-c\",\"echo 'a b'\"]\n"));
  CHECK_THAT(files["Dockerfile"], !Catch::Contains("COPY function/"));

  p.Write("src/run.sh", "cat\n");
  auto with_source = PlanBuild(
      p.Spec("  runtime: exec\n  command: [\"sh\", \"run.sh\"]\n  source: ./src\n"), p.Options());
  REQUIRE(with_source.ok());
  CHECK_THAT(Files(*with_source)["Dockerfile"],
             Catch::Contains("COPY function/ /var/task/\nWORKDIR /var/task\n"));
}

TEST_CASE("dockerfile runtime builds the user's Dockerfile, with the shim on top for a command",
          "[builder][templates]") {
  Project p;
  p.Write("src/Dockerfile", "FROM gantry/base:bookworm\nCOPY app /app");
  p.Write("src/app", "x");
  auto own =
      PlanBuild(p.Spec("  runtime: dockerfile\n  source: ./src\n  port: 9000\n"), p.Options());
  REQUIRE(own.ok());
  CHECK(own->dockerfile == "Dockerfile");
  CHECK(own->http_port == 9000);
  CHECK(Files(*own)["Dockerfile"] == "FROM gantry/base:bookworm\nCOPY app /app");

  auto shimmed = PlanBuild(p.Spec("  runtime: dockerfile\n  source: ./src\n  command: [\"cat\"]\n"),
                           p.Options());
  REQUIRE(shimmed.ok());
  CHECK(shimmed->dockerfile == ".gantry/Dockerfile");
  CHECK(shimmed->http_port == 0);
  auto files = Files(*shimmed);
  CHECK(files[".gantry/gantry-shim"] == "SHIM");
  CHECK_THAT(files[".gantry/Dockerfile"],
             Catch::StartsWith("FROM gantry/base:bookworm\nCOPY app /app\n"));
  CHECK_THAT(files[".gantry/Dockerfile"], Catch::EndsWith("CMD [\"--\",\"cat\"]\n"));
}

TEST_CASE("protocol lambda: the user's image, then the shim FROM it running its own command",
          "[builder][templates]") {
  Project p;
  p.Write("src/Dockerfile",
          "FROM gantry/node:bookworm\nCMD [\"npx\", \"aws-lambda-ric\", \"index.handler\"]\n");
  auto spec = p.Spec("  runtime: dockerfile\n  source: ./src\n  protocol: lambda\n");
  auto user = PlanBuild(spec, p.Options());
  REQUIRE(user.ok());
  CHECK(user->wrap_lambda);
  CHECK(user->runtime_api);
  CHECK(user->http_port == 0);
  CHECK(user->dockerfile == "Dockerfile");  // the user's own, untouched
  CHECK(Files(*user)[".gantry/gantry-shim"] == "SHIM");

  docker::ImageInfo built;
  built.id = "sha256:abc";
  built.entrypoint = {"/lambda-entrypoint.sh"};
  built.cmd = {"index.handler"};
  auto wrap = PlanLambdaWrap(spec, "gantry/fn-default-fn:1-user", built, p.Options());
  REQUIRE(wrap.ok());
  CHECK(wrap->runtime_api);
  auto files = Files(*wrap);
  CHECK(files["gantry-shim"] == "SHIM");
  const std::string& df = files["Dockerfile"];
  CHECK_THAT(df, Catch::StartsWith("FROM gantry/fn-default-fn:1-user\n"));
  CHECK_THAT(df, Catch::Contains("LABEL gantry.base-image=\"sha256:abc\"\n"));
  CHECK_THAT(df, Catch::Contains("ENV _HANDLER=\"index.handler\"\n"));
  CHECK_THAT(df, Catch::Contains("ENV GANTRY_MODE=runtime-api\n"));
  CHECK_THAT(df, Catch::Contains("ENTRYPOINT [\"/usr/local/bin/gantry-shim\"]\n"));
  CHECK_THAT(df, Catch::EndsWith("CMD [\"--\",\"/lambda-entrypoint.sh\",\"index.handler\"]\n"));
  CHECK_THAT(df, !Catch::Contains("USER"));  // the image's own user

  // spec.command replaces what the image runs.
  auto own = p.Spec(
      "  runtime: image\n  image: my/ric:1\n  protocol: lambda\n  command: [\"node\", "
      "\"ric.js\"]\n");
  auto commanded = PlanLambdaWrap(own, "my/ric:1", built, p.Options());
  REQUIRE(commanded.ok());
  CHECK_THAT(Files(*commanded)["Dockerfile"],
             Catch::EndsWith("CMD [\"--\",\"node\",\"ric.js\"]\n"));
  CHECK_THAT(Files(*commanded)["Dockerfile"], !Catch::Contains("_HANDLER"));

  docker::ImageInfo bare;
  bare.id = "sha256:def";
  auto nothing = PlanLambdaWrap(spec, "x:1", bare, p.Options());
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(nothing.error().message(), Catch::Contains("neither ENTRYPOINT nor CMD"));
}

TEST_CASE("a Dockerfile that is a symlink out of the source tree is refused, naming it",
          "[builder][templates]") {
  Project p;
  p.Write("secret", "FROM host-secret\n");
  p.Write("src/app", "x");
  std::error_code ec;
  fs::path src = fs::path(p.Options().shim_path).parent_path() / "src";
  fs::create_symlink(src.parent_path() / "secret", src / "Dockerfile");
  for (const char* shape : {"  runtime: dockerfile\n  source: ./src\n  command: [\"cat\"]\n",
                            "  runtime: dockerfile\n  source: ./src\n  port: 9000\n"}) {
    auto plan = PlanBuild(p.Spec(shape), p.Options());
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == core::ErrorCode::kInvalidArgument);
    CHECK_THAT(plan.error().message(),
               Catch::Contains("Dockerfile") && Catch::Contains("outside the source tree"));
  }

  // A directory above it that leads out is the same thing.
  fs::remove(src / "Dockerfile");
  fs::create_directories(src.parent_path() / "elsewhere");
  p.Write("elsewhere/Dockerfile", "FROM host-secret\n");
  fs::create_directory_symlink(src.parent_path() / "elsewhere", src / "docker");
  auto nested = PlanBuild(p.Spec("  runtime: dockerfile\n  source: ./src\n  dockerfile: "
                                 "docker/Dockerfile\n  command: [\"cat\"]\n"),
                          p.Options());
  REQUIRE_FALSE(nested.ok());
  CHECK_THAT(nested.error().message(), Catch::Contains("outside the source tree"));

  // A symlink that stays inside the tree is fine.
  fs::remove(src / "docker");
  p.Write("src/Dockerfile.real", "FROM gantry/base:bookworm\n");
  fs::create_symlink("Dockerfile.real", src / "Dockerfile");
  auto inside = PlanBuild(p.Spec("  runtime: dockerfile\n  source: ./src\n  command: [\"cat\"]\n"),
                          p.Options());
  REQUIRE(inside.ok());
  CHECK_THAT(Files(*inside)[".gantry/Dockerfile"],
             Catch::StartsWith("FROM gantry/base:bookworm\n"));
}

TEST_CASE("stem images: the runtime's base, shim and bootstrap, no function, GANTRY_STEM",
          "[builder][templates][stem]") {
  Project p;
  for (auto runtime : {spec::Runtime::kPython3, spec::Runtime::kNode}) {
    bool python = runtime == spec::Runtime::kPython3;
    INFO("runtime " << spec::RuntimeName(runtime));
    auto plan = PlanStemBuild(runtime, p.Options());
    REQUIRE(plan.ok());
    CHECK(plan->runtime_api);
    CHECK(plan->http_port == 0);
    CHECK(plan->container_env.empty());
    CHECK(plan->base_image == (python ? "gantry/python3:bookworm" : "gantry/node:bookworm"));
    auto files = Files(*plan);
    // Nothing of any function: the shim, the bootstrap and the Dockerfile only.
    CHECK(files.size() == 3);
    CHECK(files["gantry-shim"] == "SHIM");
    CHECK(files[python ? "bootstrap.py" : "bootstrap.js"] == (python ? "PY" : "JS"));
    const std::string& df = files["Dockerfile"];
    CHECK_THAT(df, Catch::StartsWith("FROM " + plan->base_image + "\n"));
    CHECK_THAT(df, Catch::Contains("COPY gantry-shim /usr/local/bin/gantry-shim\n"));
    CHECK_THAT(df, Catch::Contains(python ? "COPY bootstrap.py /opt/gantry/bootstrap.py\n"
                                          : "COPY bootstrap.js /opt/gantry/bootstrap.js\n"));
    CHECK_THAT(df, !Catch::Contains("COPY function/"));
    CHECK_THAT(df, !Catch::Contains("_HANDLER"));
    // The environment of a function image of the runtime, plus the stem's.
    CHECK_THAT(df, Catch::Contains("ENV LAMBDA_TASK_ROOT=/var/task\n"));
    CHECK_THAT(df, Catch::Contains(python ? "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "
                                            "PYTHONPATH=/opt/gantry/deps/python\n"
                                          : "ENV NODE_PATH=/opt/gantry/deps/node/node_modules\n"));
    CHECK_THAT(df, Catch::Contains("ENV GANTRY_STEM=1\n"));
    CHECK_THAT(df, Catch::Contains("WORKDIR /var/task\n"));
    CHECK_THAT(df, Catch::Contains("USER 65534:65534\n"));
    CHECK_THAT(df, Catch::Contains("ENV GANTRY_MODE=runtime-api\n"));
    CHECK_THAT(df, Catch::Contains("ENTRYPOINT [\"/usr/local/bin/gantry-shim\"]\n"));
    CHECK_THAT(df,
               Catch::Contains(python ? "CMD [\"--\",\"python3\",\"/opt/gantry/bootstrap.py\"]\n"
                                      : "CMD [\"--\",\"node\",\"/opt/gantry/bootstrap.js\"]\n"));
  }

  auto exec = PlanStemBuild(spec::Runtime::kExec, p.Options());
  REQUIRE(exec.ok());
  CHECK_FALSE(exec->runtime_api);
  CHECK(exec->base_image == "gantry/base:bookworm");
  auto files = Files(*exec);
  CHECK(files.size() == 2);
  const std::string& df = files["Dockerfile"];
  CHECK_THAT(df, Catch::StartsWith("FROM gantry/base:bookworm\n"));
  CHECK_THAT(df, Catch::Contains("ENV GANTRY_STEM=1\n"));
  CHECK_THAT(df, Catch::Contains("WORKDIR /var/task\n"));
  CHECK_THAT(df, Catch::Contains("USER 65534:65534\n"));
  CHECK_THAT(df, Catch::Contains("ENV GANTRY_MODE=exec\n"));
  // No command: it comes with the specialisation.
  CHECK_THAT(df, Catch::EndsWith("CMD [\"--\"]\n"));
}

TEST_CASE("stem images: only for template runtimes, and missing pieces are named",
          "[builder][templates][stem]") {
  Project p;
  for (auto runtime : {spec::Runtime::kImage, spec::Runtime::kDockerfile}) {
    auto plan = PlanStemBuild(runtime, p.Options());
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == core::ErrorCode::kInvalidArgument);
  }
  TemplateOptions no_shim = p.Options();
  no_shim.shim_path = "/nonexistent/gantry-shim";
  auto shim = PlanStemBuild(spec::Runtime::kExec, no_shim);
  REQUIRE_FALSE(shim.ok());
  CHECK(shim.error().code() == core::ErrorCode::kNotFound);
  CHECK_THAT(shim.error().message(), Catch::Contains("gantry-shim"));
  TemplateOptions no_boot = p.Options();
  no_boot.bootstrap_dir = "/nonexistent";
  auto boot = PlanStemBuild(spec::Runtime::kNode, no_boot);
  REQUIRE_FALSE(boot.ok());
  CHECK(boot.error().code() == core::ErrorCode::kNotFound);
  CHECK_THAT(boot.error().message(), Catch::Contains("bootstrap"));
  TemplateOptions no_base = p.Options();
  no_base.base_images.erase(spec::Runtime::kPython3);
  auto base = PlanStemBuild(spec::Runtime::kPython3, no_base);
  REQUIRE_FALSE(base.ok());
  CHECK(base.error().code() == core::ErrorCode::kInvalidArgument);
}

TEST_CASE("missing pieces are named", "[builder][templates]") {
  Project p;
  p.Write("src/handler.py", "");
  TemplateOptions o = p.Options();
  o.shim_path = "/nonexistent/gantry-shim";
  auto no_shim =
      PlanBuild(p.Spec("  runtime: python3\n  handler: handler.main\n  source: ./src\n"), o);
  REQUIRE_FALSE(no_shim.ok());
  CHECK(no_shim.error().code() == core::ErrorCode::kNotFound);
  CHECK_THAT(no_shim.error().message(), Catch::Contains("gantry-shim"));

  // The validator checks that the Dockerfile exists; only the builder knows it is ignored.
  p.Write("src/Dockerfile", "FROM x\n");
  p.Write("src/.gantryignore", "Dockerfile\n");
  auto ignored = PlanBuild(p.Spec("  runtime: dockerfile\n  source: ./src\n"), p.Options());
  REQUIRE_FALSE(ignored.ok());
  CHECK_THAT(ignored.error().message(),
             Catch::Contains("no Dockerfile") && Catch::Contains("ignored"));

  auto image = PlanBuild(p.Spec("  runtime: image\n  image: my/app:1\n"), p.Options());
  REQUIRE_FALSE(image.ok());
  CHECK(image.error().code() == core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::builder
