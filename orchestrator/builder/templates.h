#pragma once

#include <map>
#include <string>

#include "builder/build_context.h"
#include "core/result.h"
#include "docker/types.h"
#include "spec/function_spec.h"

namespace gantry::builder {

// Where things live inside a template-built image.
inline constexpr const char* kImageShimPath = "/usr/local/bin/gantry-shim";
inline constexpr const char* kTaskRoot = "/var/task";
// The shim's socket directory, bind-mounted from the host per replica.
inline constexpr const char* kSocketDir = "/run/gantry";
// The unprivileged user functions run as (nobody:nogroup on Debian).
inline constexpr const char* kFunctionUser = "65534:65534";

struct TemplateOptions {
  // Base image per template runtime (python3, node, exec). Local gantry/* images by
  // default; elsewhere e.g. python:3.12-slim.
  std::map<spec::Runtime, std::string> base_images = {
      {spec::Runtime::kPython3, "gantry/python3:bookworm"},
      {spec::Runtime::kNode, "gantry/node:bookworm"},
      {spec::Runtime::kExec, "gantry/base:bookworm"},
  };
  std::string shim_path;      // the static gantry-shim on this host
  std::string bootstrap_dir;  // holds python3/bootstrap.py and node/bootstrap.js
  // Settings for the dependency installers, passed as build args (never kept in the
  // image): PIP_INDEX_URL, PIP_FIND_LINKS, ... for pip; npm_config_registry, ... for npm.
  std::map<std::string, std::string> install_env;
};

// What a function's build needs: the context and the Dockerfile's path inside it.
struct BuildPlan {
  BuildContext context;
  std::string dockerfile = "Dockerfile";
  // The TCP port the image serves HTTP on itself; 0 when the shim serves it on its socket.
  int http_port = 0;
  // Build args (the installers' settings); part of the image's tag.
  std::map<std::string, std::string> build_args;
  // The dependency install step, when there is one: "pip install", "npm ci" or "npm
  // install", and its RUN instruction (to recognise its failure).
  std::string installer;
  std::string install_run;
  // The shim serves the image in runtime-api mode (python3, node, protocol lambda).
  bool runtime_api = false;
  // dockerfile with protocol lambda: this builds the user's image, which PlanLambdaWrap
  // then wraps (its ENTRYPOINT and CMD are known only once it is built).
  bool wrap_lambda = false;
  // The image the generated Dockerfile starts FROM (python3, node, exec); empty when the
  // user's Dockerfile names it or the plan wraps an image. Its id is part of the tag.
  std::string base_image;
  // What the function's containers need in their environment that is not content, so not
  // in the image: _HANDLER (python3, node). Functions that differ only here share an image.
  std::map<std::string, std::string> container_env;
};

// Lays out the build of `spec` (not runtime image, which builds nothing). Nothing of the
// function's identity (name, namespace, generation) goes into the image, only content
// (from the source, its Gantry manifests are left out: gantry.yaml, *.gantry.yaml, ...,
// unless an ignore file re-includes them):
//   python3/node: FROM the runtime's base, the dependency step when the source declares
//     dependencies (see dependencies.h: its own cached layer), the shim, the bootstrap,
//     the source under /var/task, user 65534, the shim as entrypoint in runtime-api mode;
//     the handler is container_env's _HANDLER, not the image's;
//   exec: FROM the base, the shim in exec mode running spec.command, the source (if any);
//   dockerfile: the user's own Dockerfile and source; with spec.command, the shim is added
//     on top and runs the command per request (exec mode), else the image serves HTTP on
//     spec.port itself.
// kNotFound when the source, the user's Dockerfile, the shim or a bootstrap is missing;
// kInvalidArgument for a source symlink that leads out of the tree or a malformed
// package.json. With protocol lambda, the user's image alone (wrap_lambda), to be wrapped.
core::Result<BuildPlan> PlanBuild(const spec::FunctionSpec& spec, const TemplateOptions& options);

// The stem image of a template runtime (python3, node, exec): what stem cells run, the
// containers the pool keeps started for functions that have no replica yet (the protocol:
// /work/briefs/protocol14.md). FROM the runtime's base image, the shim at kImageShimPath,
// for python3/node the bootstrap at /opt/gantry/<file> and the environment a function image
// of that runtime has (LAMBDA_TASK_ROOT, PYTHONPATH..., NODE_PATH), GANTRY_STEM=1, working
// directory kTaskRoot, user kFunctionUser, the shim as entrypoint in runtime-api mode
// running the interpreter with the bootstrap (python3, node) or in exec mode with no
// command (exec). No function's code: the cell's mounts bring it. runtime_api is set for
// python3/node, base_image always, container_env never. kInvalidArgument for another
// runtime or one without a base image; kNotFound when the shim or the bootstrap is missing.
core::Result<BuildPlan> PlanStemBuild(spec::Runtime runtime, const TemplateOptions& options);

// protocol lambda: a tiny build FROM `base_ref` (the user's image, or the one just built
// from their Dockerfile) that adds the shim as entrypoint in runtime-api mode, running
// spec.command when given, else the image's own ENTRYPOINT + CMD (as inspected: `base`);
// _HANDLER is the CMD's last word (Lambda images name the handler there). The user, working
// directory and environment are the image's own. kInvalidArgument when there is nothing to
// run (no command, no ENTRYPOINT, no CMD); kNotFound when the shim is missing.
core::Result<BuildPlan> PlanLambdaWrap(const spec::FunctionSpec& spec, const std::string& base_ref,
                                       const docker::ImageInfo& base,
                                       const TemplateOptions& options);

}  // namespace gantry::builder
