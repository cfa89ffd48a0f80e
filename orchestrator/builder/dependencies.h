#pragma once

#include <map>
#include <string>
#include <string_view>

#include "builder/build_context.h"
#include "core/result.h"
#include "spec/function_spec.h"

namespace gantry::builder {

// Where a template image keeps a function's installed dependencies: apart from its code
// (/var/task), so that the function's package is the two directories and can be delivered
// into a generic container later. On PYTHONPATH / NODE_PATH at run time.
inline constexpr const char* kPythonDepsDir = "/opt/gantry/deps/python";
inline constexpr const char* kNodeDepsDir = "/opt/gantry/deps/node";

// The dependency step of a python3/node template build, when the source declares any:
//   python3: function/requirements.txt -> pip install -r into kPythonDepsDir;
//   node: function/package.json (+ package-lock.json: npm ci, else npm install) ->
//     production dependencies into kNodeDepsDir/node_modules.
// `dockerfile` COPYs only the declaration files and the local paths they name (pip's
// -r/-c/-f/--find-links and local archives, a wheels/ directory, npm's file: specs), then
// RUNs the installer: its own layer, reused by the engine's cache while those files are
// unchanged, however the rest of the code changes.
struct DependencyStep {
  std::string installer;   // "pip install", "npm ci" or "npm install"; empty: no step
  std::string dockerfile;  // the instructions, each line ending in '\n'
  std::string run;         // the RUN instruction itself, as the engine echoes it
  std::map<std::string, std::string> build_args;  // the installer's settings (ARGs)
};

// Plans the step for `runtime` from what `context` holds under "function/". `install_env`
// holds the installer settings configured in gantryd (PIP_INDEX_URL, PIP_FIND_LINKS,
// npm_config_registry, ...): the ones for this runtime's installer (PIP_*, npm_config_*)
// become build args, never part of the image. An installer with nothing to install gives
// an empty step. kInvalidArgument when package.json is not a JSON object.
core::Result<DependencyStep> PlanDependencies(
    spec::Runtime runtime, const BuildContext& context,
    const std::map<std::string, std::string>& install_env);

// The error of a failed dependency step, from the engine's build error `build_error`
// ("step 2/9 "RUN ..." failed: ...\noutput of the failing step (last lines):\n  ..."):
// "pip install: No matching distribution found for nosuchpkg==1.0" (the installer's own
// verdict, naming the package) followed by the last lines of its output.
std::string DescribeInstallFailure(std::string_view installer, std::string_view build_error);

}  // namespace gantry::builder
