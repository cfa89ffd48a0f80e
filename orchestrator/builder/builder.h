#pragma once

#include <string>

#include "builder/templates.h"
#include "core/result.h"
#include "docker/docker_client.h"
#include "spec/function_spec.h"

namespace gantry::builder {

struct BuilderOptions {
  TemplateOptions templates;
  // Images kept per function, the current one included; older ones are removed after a
  // build (images a container still uses stay).
  int keep_images = 3;
  // Added to every image built (tests put gantry.test here); images are also pruned only
  // when they carry all of them.
  docker::Labels extra_labels;
  // The gantryd instance building: its images are named gantry/<instance>/fn-<ns>-<name>
  // and labelled gantry.instance=<instance>, so two instances never share, reuse or prune
  // each other's images (an image's labels become its containers' labels). Empty (tests
  // of the builder alone): gantry/fn-<ns>-<name>, no instance label.
  std::string instance_id;
  // Build without the engine's layer cache (benchmarks of a cold build).
  bool no_cache = false;
};

// The image a function runs.
struct BuiltImage {
  std::string ref;   // "gantry/fn-default-echo:1a2b..." (or the user's image for runtime image)
  std::string id;    // "sha256:..."
  bool cached = false;  // true when nothing was built (the tag existed, or runtime image)
  int http_port = 0;    // the port the image serves HTTP on itself; 0: the shim's socket
  bool runtime_api = false;  // the shim serves it the Lambda Runtime API (python3, node, lambda)
};

// Turns a FunctionSpec and its source directory into an image through the Engine API
// (POST /build). Images are tagged by content: ImageRepository(...):<hash>, the
// hash over the build context's bytes (the source after .dockerignore/.gantryignore, the
// generated Dockerfile, the shim and bootstrap) and the installers' build args, so an existing tag is never rebuilt and
// any change to what goes into the image gives a new tag. Thread-safe when the
// DockerClient is; building the same function twice at once is the caller's to avoid.
class Builder {
 public:
  Builder(docker::DockerClient& docker, BuilderOptions options) : docker_(docker), options_(std::move(options)) {}

  // Returns the function's image, building it when its tag doesn't exist (protocol lambda:
  // the user's image, then a tiny build FROM it that adds the shim running its command), with each line
  // of build output passed to `progress`. Errors: kNotFound (source, Dockerfile, shim or,
  // for runtime image, the image itself missing), kInvalidArgument (a build step failed:
  // the step, the engine's message and the step's last output lines; for the dependency
  // install, "pip install: <pip's verdict naming the package>" and pip's/npm's last
  // lines), or the engine's.
  core::Result<BuiltImage> Build(const spec::FunctionSpec& spec, const docker::BuildProgressFn& progress = nullptr);

  // The tag the function's current source would get, without building. Same errors as
  // Build's planning.
  core::Result<std::string> Tag(const spec::FunctionSpec& spec) const;

  // Removes the function's images beyond the newest `keep_images` (never `current`); only
  // images this builder's instance made (IdentitySelector). Returns how many were removed.
  int Prune(const spec::FunctionSpec& spec, const std::string& current);

  // The labels every image this builder makes carries besides the function's own:
  // extra_labels and gantry.instance. Selecting by them finds only this instance's images.
  docker::LabelSelector IdentitySelector() const;

 private:
  core::Result<std::string> BuildTagged(const spec::FunctionSpec& spec, const BuildPlan& plan, const std::string& tar,
                                        const std::string& tag, const docker::BuildProgressFn& progress);

  docker::DockerClient& docker_;
  BuilderOptions options_;
};

// "gantry/<instance>/fn-<namespace>-<name>", or "gantry/fn-<namespace>-<name>" without an
// instance (a valid repository name: the instance id is hex, the others DNS-1123 labels).
std::string ImageRepository(const spec::FunctionSpec& spec, const std::string& instance_id = "");

}  // namespace gantry::builder
