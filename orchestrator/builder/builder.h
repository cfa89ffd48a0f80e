#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "builder/templates.h"
#include "core/result.h"
#include "docker/docker_client.h"
#include "spec/function_spec.h"

namespace gantry::builder {

// The label of a stem image (and of stem cells): its runtime's name.
inline constexpr std::string_view kStemLabel = "gantry.stem";

struct BuilderOptions {
  TemplateOptions templates;
  // Images no function uses that RemoveUnused keeps anyway (the newest), so that going
  // back to a recent version builds nothing.
  int keep_unused = 2;
  // Added to every image built (tests put gantry.test here) and part of its tag: builders
  // with other labels never share an image. RemoveUnused looks only at images carrying all
  // of them.
  docker::Labels extra_labels;
  // The gantryd instance building: its images are named gantry/<instance>/fn:<hash> and
  // labelled gantry.instance=<instance>, so two instances never share, reuse or remove
  // each other's images. Empty (tests of the builder alone): gantry/fn:<hash>, no
  // instance label.
  std::string instance_id;
  // Build without the engine's layer cache (benchmarks of a cold build).
  bool no_cache = false;
};

// The image a function runs.
struct BuiltImage {
  std::string ref;           // "gantry/fn:1a2b..." (or the user's image for runtime image)
  std::string id;            // "sha256:..."
  bool cached = false;       // true when nothing was built (the tag existed, or runtime image)
  int http_port = 0;         // the port the image serves HTTP on itself; 0: the shim's socket
  bool runtime_api = false;  // the shim serves it the Lambda Runtime API (python3, node, lambda)
  // What the function's containers need in their environment besides the spec's env
  // (_HANDLER); not in the image, so functions that differ only here share it.
  std::map<std::string, std::string> env;
};

// Turns a FunctionSpec and its source directory into an image through the Engine API
// (POST /build). Images are addressed by content, not by function: the tag is
// ImageRepository(instance):<hash>, the hash over everything that goes into the image
// (the build context's bytes: the source after .dockerignore/.gantryignore, the generated
// Dockerfile, the shim and bootstrap; the base image's id; the installers' build args; the
// image's labels) and nothing else, so the same content under another name or handler is
// the same image, built once, and any change to what goes into the image gives a new tag.
// Images carry no function's name: which function uses which image is the caller's to
// know (RemoveUnused takes it). Thread-safe when the DockerClient is; building and
// RemoveUnused at once is the caller's to avoid (a removal can take a layer a build uses).
class Builder {
 public:
  Builder(docker::DockerClient& docker, BuilderOptions options)
      : docker_(docker), options_(std::move(options)) {}

  // Returns the function's image, building it when its tag doesn't exist (asked with
  // GET /images/{tag}/json first: an existing tag is never built again, whichever function
  // it was first built for; protocol lambda: the user's image, then a tiny build FROM it
  // that adds the shim running its command), with each line of build output passed to
  // `progress`. Errors: kNotFound (source, Dockerfile, shim or, for runtime image, the
  // image itself missing), kInvalidArgument (a build step failed: the step, the engine's
  // message and the step's last output lines; for the dependency install, "pip install:
  // <pip's verdict naming the package>" and pip's/npm's last lines), or the engine's.
  core::Result<BuiltImage> Build(const spec::FunctionSpec& spec,
                                 const docker::BuildProgressFn& progress = nullptr);

  // Returns the stem image of a template runtime (PlanStemBuild: what stem cells run),
  // building it when its tag doesn't exist; as Build, content-tagged:
  // ImageRepository(instance):stem-<runtime>-<hash>, labelled with the builder's identity
  // and gantry.stem=<runtime> but not gantry.runtime, so RemoveUnused never takes it.
  // Once a new one is built, this builder's older stem images of the runtime are removed
  // (those still used by a container stay, until the next new one). runtime_api is set for
  // python3/node; env is empty. Errors: PlanStemBuild's, kInvalidArgument when the build
  // fails, or the engine's.
  core::Result<BuiltImage> BuildStem(spec::Runtime runtime,
                                     const docker::BuildProgressFn& progress = nullptr);

  // The tag the function's current source would get, without building. Same errors as
  // Build's planning.
  core::Result<std::string> Tag(const spec::FunctionSpec& spec) const;

  // Removes the images this builder made (IdentitySelector()) that no function uses: none
  // of their tags is in `in_use` (the images of every function's current deployment).
  // With `keep_recent`, the newest keep_unused of those stay (a cache for going back). An
  // image a container still uses answers kConflict and stays until a later call. Does
  // nothing without an identity (no instance, no extra labels): it would take other
  // builders' images. Returns how many were removed.
  int RemoveUnused(const std::set<std::string>& in_use, bool keep_recent = true);

  // The labels every image this builder makes carries besides the function's own:
  // extra_labels and gantry.instance. Selecting by them finds only this instance's images.
  docker::LabelSelector IdentitySelector() const;

 private:
  // The labels of an image built for a function of `runtime` (part of its tag).
  docker::Labels ImageLabels(spec::Runtime runtime) const;
  // The labels of `runtime`'s stem image.
  docker::Labels StemLabels(spec::Runtime runtime) const;
  // ImageRepository(instance):<tag_prefix><hash of what goes into the image: the plan, its
  // context `tar` and the image's `labels`>. Errors: the engine's when the base image can't
  // be inspected (a missing one is left to the build to name).
  core::Result<std::string> ContentTag(const docker::Labels& labels, std::string_view tar,
                                       const BuildPlan& plan,
                                       std::string_view tag_prefix = "") const;
  // A build's plan, its context's bytes and its content tag.
  struct TaggedPlan {
    BuildPlan plan;
    std::string tar;
    std::string tag;
  };
  // The spec's own build, or with `wrap_base` the thin protocol-lambda layer over that
  // (the spec's) image. Errors: the plan's, the context's or ContentTag's.
  core::Result<TaggedPlan> PlanTagged(const spec::FunctionSpec& spec,
                                      const docker::ImageInfo* wrap_base) const;
  // Builds `tar` by `plan` as `tag` with `labels`; `what` names the build in logs.
  core::Result<std::string> BuildTagged(const std::string& what, const docker::Labels& labels,
                                        const BuildPlan& plan, const std::string& tar,
                                        const std::string& tag,
                                        const docker::BuildProgressFn& progress);
  // Removes this builder's stem images of `runtime` other than `keep_id` (not forced).
  void RemoveOlderStems(spec::Runtime runtime, const std::string& keep_id);

  docker::DockerClient& docker_;
  BuilderOptions options_;
};

// "gantry/<instance>/fn", or "gantry/fn" without an instance (a valid repository name:
// the instance id is hex).
std::string ImageRepository(const std::string& instance_id = "");

}  // namespace gantry::builder
