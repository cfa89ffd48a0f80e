#include "builder/templates.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "builder/dependencies.h"

namespace gantry::builder {
namespace {

using spec::Runtime;

std::string JsonArray(const std::vector<std::string>& items) {
  return nlohmann::json(items).dump();
}
std::string Quote(const std::string& s) {
  return nlohmann::json(s).dump();
}

// The shim as entrypoint, running `command` (everything after "--").
std::string ShimEntrypoint(std::string_view mode, const std::vector<std::string>& command) {
  std::vector<std::string> cmd = {"--"};
  cmd.insert(cmd.end(), command.begin(), command.end());
  return fmt::format("ENV GANTRY_MODE={}\nENTRYPOINT [\"{}\"]\nCMD {}\n", mode, kImageShimPath,
                     JsonArray(cmd));
}

core::Result<std::string> BaseImage(const TemplateOptions& options, Runtime runtime) {
  auto it = options.base_images.find(runtime);
  if (it == options.base_images.end() || it->second.empty()) {
    return core::Error::InvalidArgument(
        fmt::format("no base image configured for runtime {}", spec::RuntimeName(runtime)));
  }
  return it->second;
}

// The environment every python3/node image has (function images and stem images alike).
std::string HandlerEnvironment(std::string_view interpreter) {
  std::string df = fmt::format("ENV LAMBDA_TASK_ROOT={}\n", kTaskRoot);
  // The root filesystem is read-only at run time: no .pyc files, output unbuffered.
  if (interpreter == "python3") {
    df += fmt::format("ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH={}\n",
                      kPythonDepsDir);
  } else {
    df += fmt::format("ENV NODE_PATH={}/node_modules\n", kNodeDepsDir);
  }
  return df;
}

std::string HandlerTemplate(const std::string& base, std::string_view interpreter,
                            std::string_view bootstrap, const DependencyStep& deps) {
  std::string df = fmt::format("FROM {}\n", base);
  // First: the install layer stays cached across code (and shim) changes.
  df += deps.dockerfile;
  df += fmt::format("COPY gantry-shim {}\n", kImageShimPath);
  df += fmt::format("COPY {0} /opt/gantry/{0}\n", bootstrap);
  df += fmt::format("COPY function/ {}/\n", kTaskRoot);
  df += fmt::format("WORKDIR {}\n", kTaskRoot);
  // The function's name, version, memory and handler are the container's (BuildPlan's
  // container_env, the pool): the same code under another name or handler is this image.
  df += HandlerEnvironment(interpreter);
  df += fmt::format("USER {}\n", kFunctionUser);
  df += ShimEntrypoint("runtime-api",
                       {std::string(interpreter), "/opt/gantry/" + std::string(bootstrap)});
  return df;
}

// The bootstrap of a python3/node runtime, added to `plan` as `file`.
core::Status AddBootstrap(BuildPlan& plan, const TemplateOptions& options, bool python,
                          const std::string& file) {
  std::string host =
      (std::filesystem::path(options.bootstrap_dir) / (python ? "python3" : "node") / file)
          .string();
  if (auto s = plan.context.AddHostFile(host, file, false); !s) {
    return s.error().WithContext("the runtime bootstrap");
  }
  return core::Ok();
}

// The Dockerfile `relative` inside `source`, read without ever leaving the source tree: a
// symlink (itself or a directory above it) may point elsewhere inside the tree, never
// outside it, where the host's files are. Errors: kInvalidArgument naming the file and
// where it leads; kNotFound when it (or its target) is missing.
core::Result<std::string> ReadDockerfile(const spec::FunctionSpec& spec) {
  namespace fs = std::filesystem;
  const fs::path given = fs::path(spec.source_path()) / spec.dockerfile();
  std::error_code ec;
  fs::path root = fs::canonical(spec.source_path(), ec);
  if (ec) {
    return core::Error::NotFound(
        fmt::format("{}: source {}: {}", spec.QualifiedName(), spec.source_path(), ec.message()));
  }
  fs::path target = fs::canonical(given, ec);
  if (ec) {
    return core::Error::NotFound(
        fmt::format("{}: {}: {}", spec.QualifiedName(), given.string(), ec.message()));
  }
  auto [r, t] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
  if (r != root.end()) {
    return core::Error::InvalidArgument(
        fmt::format("{}: {} leads to {}, outside the source tree {}: refusing to read it",
                    spec.QualifiedName(), given.string(), target.string(), root.string()));
  }
  if (!fs::is_regular_file(target, ec)) {
    return core::Error::InvalidArgument(
        fmt::format("{}: {} is not a regular file", spec.QualifiedName(), given.string()));
  }
  // The resolved path has no symlink left; O_NOFOLLOW keeps one swapped in meanwhile out.
  int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return core::Error::InvalidArgument(
        fmt::format("{}: open {}: {}", spec.QualifiedName(), given.string(), std::strerror(errno)));
  }
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// The source's ignore rules for a template image, after rules that leave out Gantry
// manifests (the names the loader reads in a directory): with `source: .` the manifest
// sits in the source, and it names the function, so in the image it would make every name
// an image of its own. The source's own files come later and win ("!gantry.yaml").
IgnoreRules TemplateIgnoreRules(const std::string& source) {
  IgnoreRules rules = IgnoreRules::Parse(
      "**/gantry.yaml\n**/gantry.yml\n**/gantry.json\n"
      "**/*.gantry.yaml\n**/*.gantry.yml\n**/*.gantry.json\n");
  rules.Append(ReadIgnoreFiles(source));
  return rules;
}

}  // namespace

core::Result<BuildPlan> PlanBuild(const spec::FunctionSpec& spec, const TemplateOptions& options) {
  BuildPlan plan;
  Runtime runtime = spec.runtime();
  if (runtime == Runtime::kImage) {
    return core::Error::InvalidArgument(
        fmt::format("function {} uses runtime image: nothing to build", spec.QualifiedName()));
  }
  if (runtime == Runtime::kDockerfile) {
    IgnoreRules ignore = ReadIgnoreFiles(spec.source_path());
    if (auto s = plan.context.AddDirectory(spec.source_path(), "", ignore); !s) return s.error();
    // Checked for both shapes: the engine is given the tree, gantryd reads the file itself.
    auto user = ReadDockerfile(spec);
    if (!user) return user.error();
    if (!plan.context.Contains(spec.dockerfile())) {
      return core::Error::NotFound(fmt::format("{}: no {} in {} (or it is ignored)",
                                               spec.QualifiedName(), spec.dockerfile(),
                                               spec.source_path()));
    }
    plan.dockerfile = spec.dockerfile();
    plan.http_port = spec.port();
    if (spec.protocol() == spec::Protocol::kLambda) {
      // In the context too, so that a new shim gives the function a new tag.
      if (auto s = plan.context.AddHostFile(options.shim_path, ".gantry/gantry-shim", true); !s)
        return s.error();
      plan.http_port = 0;
      plan.runtime_api = true;
      plan.wrap_lambda = true;
      return plan;
    }
    if (!spec.command().empty()) {
      // The user's image is the environment; the shim on top runs the command per request.
      std::string df = std::move(*user);
      if (!df.empty() && df.back() != '\n') df.push_back('\n');
      df += fmt::format("COPY .gantry/gantry-shim {}\n", kImageShimPath);
      df += ShimEntrypoint("exec", spec.command());
      if (auto s = plan.context.AddHostFile(options.shim_path, ".gantry/gantry-shim", true); !s)
        return s.error();
      plan.context.AddFile(".gantry/Dockerfile", std::move(df));
      plan.dockerfile = ".gantry/Dockerfile";
      plan.http_port = 0;
    }
    return plan;
  }

  auto base = BaseImage(options, runtime);
  if (!base) return base.error();
  if (auto s = plan.context.AddHostFile(options.shim_path, "gantry-shim", true); !s) {
    return s.error().WithContext("the gantry-shim binary");
  }
  if (!spec.source_path().empty()) {
    IgnoreRules ignore = TemplateIgnoreRules(spec.source_path());
    if (auto s = plan.context.AddDirectory(spec.source_path(), "function", ignore); !s)
      return s.error();
  }
  plan.base_image = *base;
  std::string df;
  switch (runtime) {
    case Runtime::kPython3:
    case Runtime::kNode: {
      bool python = runtime == Runtime::kPython3;
      std::string bootstrap = python ? "bootstrap.py" : "bootstrap.js";
      if (auto s = AddBootstrap(plan, options, python, bootstrap); !s) return s.error();
      // An empty source still needs the directory for COPY.
      if (spec.source_path().empty()) plan.context.AddFile("function/.keep", "");
      auto deps = PlanDependencies(runtime, plan.context, options.install_env);
      if (!deps) return deps.error().WithContext(spec.QualifiedName());
      df = HandlerTemplate(*base, python ? "python3" : "node", bootstrap, *deps);
      plan.container_env["_HANDLER"] = spec.handler();
      plan.build_args = deps->build_args;
      plan.installer = deps->installer;
      plan.install_run = deps->run;
      plan.runtime_api = true;
      break;
    }
    case Runtime::kExec: {
      df = fmt::format("FROM {}\nCOPY gantry-shim {}\n", *base, kImageShimPath);
      if (!spec.source_path().empty()) df += fmt::format("COPY function/ {}/\n", kTaskRoot);
      df += fmt::format("WORKDIR {}\nUSER {}\n", spec.source_path().empty() ? "/" : kTaskRoot,
                        kFunctionUser);
      df += ShimEntrypoint("exec", spec.command());
      break;
    }
    default:
      break;
  }
  plan.context.AddFile("Dockerfile", std::move(df));
  return plan;
}

core::Result<BuildPlan> PlanStemBuild(Runtime runtime, const TemplateOptions& options) {
  if (runtime != Runtime::kPython3 && runtime != Runtime::kNode && runtime != Runtime::kExec) {
    return core::Error::InvalidArgument(fmt::format(
        "runtime {} has no stem cells (python3, node, exec)", spec::RuntimeName(runtime)));
  }
  auto base = BaseImage(options, runtime);
  if (!base) return base.error();
  BuildPlan plan;
  plan.base_image = *base;
  if (auto s = plan.context.AddHostFile(options.shim_path, "gantry-shim", true); !s) {
    return s.error().WithContext("the gantry-shim binary");
  }
  std::string df = fmt::format("FROM {}\nCOPY gantry-shim {}\n", *base, kImageShimPath);
  std::vector<std::string> command;
  if (runtime != Runtime::kExec) {
    bool python = runtime == Runtime::kPython3;
    std::string interpreter = python ? "python3" : "node";
    std::string bootstrap = python ? "bootstrap.py" : "bootstrap.js";
    if (auto s = AddBootstrap(plan, options, python, bootstrap); !s) return s.error();
    df += fmt::format("COPY {0} /opt/gantry/{0}\n", bootstrap);
    df += HandlerEnvironment(interpreter);
    command = {interpreter, "/opt/gantry/" + bootstrap};
    plan.runtime_api = true;
  }
  // The function's code, dependencies and secrets arrive in the cell's mounts.
  df += fmt::format("ENV GANTRY_STEM=1\nWORKDIR {}\nUSER {}\n", kTaskRoot, kFunctionUser);
  df += ShimEntrypoint(plan.runtime_api ? "runtime-api" : "exec", command);
  plan.context.AddFile("Dockerfile", std::move(df));
  return plan;
}

core::Result<BuildPlan> PlanLambdaWrap(const spec::FunctionSpec& spec, const std::string& base_ref,
                                       const docker::ImageInfo& base,
                                       const TemplateOptions& options) {
  std::vector<std::string> command = spec.command();
  if (command.empty()) {
    command = base.entrypoint;
    command.insert(command.end(), base.cmd.begin(), base.cmd.end());
  }
  if (command.empty()) {
    return core::Error::InvalidArgument(
        fmt::format("{}: image {} has neither ENTRYPOINT nor CMD: set spec.command to its Lambda "
                    "runtime client",
                    spec.QualifiedName(), base_ref));
  }
  BuildPlan plan;
  if (auto s = plan.context.AddHostFile(options.shim_path, "gantry-shim", true); !s) {
    return s.error().WithContext("the gantry-shim binary");
  }
  // The id pins the tag to the image's content, whatever its name points at later.
  std::string df = fmt::format("FROM {}\nLABEL gantry.base-image={}\n", base_ref, Quote(base.id));
  df += fmt::format("COPY gantry-shim {}\n", kImageShimPath);
  if (spec.command().empty() && !base.cmd.empty())
    df += fmt::format("ENV _HANDLER={}\n", Quote(base.cmd.back()));
  df += ShimEntrypoint("runtime-api", command);
  plan.context.AddFile("Dockerfile", std::move(df));
  plan.runtime_api = true;
  return plan;
}

}  // namespace gantry::builder
