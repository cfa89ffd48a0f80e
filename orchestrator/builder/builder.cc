#include "builder/builder.h"

#include <fmt/format.h>

#include <algorithm>

#include "builder/dependencies.h"
#include "core/identity.h"
#include "core/log.h"
#include "spec/sha256.h"

namespace gantry::builder {
namespace {

constexpr std::size_t kTagHexDigits = 20;

std::string ContextTag(const spec::FunctionSpec& spec, const std::string& instance_id, std::string_view tar,
                       const BuildPlan& plan) {
  spec::Sha256 h;
  h.Update(plan.dockerfile);
  h.Update(std::string_view("\0", 1));
  h.Update(tar);
  if (plan.wrap_lambda) h.Update(std::string_view("\0+lambda", 8));
  // Another index or registry may resolve the same requirements differently.
  for (const auto& [k, v] : plan.build_args) {
    h.Update(std::string_view("\0", 1));
    h.Update(k);
    h.Update(std::string_view("=", 1));
    h.Update(v);
  }
  return fmt::format("{}:{}", ImageRepository(spec, instance_id), spec::Sha256::ToHex(h.Finish()).substr(0, kTagHexDigits));
}

}  // namespace

std::string ImageRepository(const spec::FunctionSpec& spec, const std::string& instance_id) {
  if (instance_id.empty()) return fmt::format("gantry/fn-{}-{}", spec.namespace_name(), spec.name());
  return fmt::format("gantry/{}/fn-{}-{}", instance_id, spec.namespace_name(), spec.name());
}

docker::LabelSelector Builder::IdentitySelector() const {
  docker::LabelSelector selector;
  for (const auto& [k, v] : options_.extra_labels) selector.push_back(k + "=" + v);
  if (!options_.instance_id.empty()) {
    selector.push_back(fmt::format("{}={}", core::kInstanceLabel, options_.instance_id));
  }
  return selector;
}

core::Result<std::string> Builder::Tag(const spec::FunctionSpec& spec) const {
  std::string what = fmt::format("build {}", spec.QualifiedName());
  if (spec.runtime() == spec::Runtime::kImage) {
    if (spec.protocol() != spec::Protocol::kLambda) return spec.image();
    auto image = docker_.InspectImage(spec.image());
    if (!image) return image.error().WithContext(what);
    auto plan = PlanLambdaWrap(spec, spec.image(), *image, options_.templates);
    if (!plan) return plan.error().WithContext(what);
    auto tar = plan->context.Tar();
    if (!tar) return tar.error().WithContext(what);
    return ContextTag(spec, options_.instance_id, *tar, *plan);
  }
  auto plan = PlanBuild(spec, options_.templates);
  if (!plan) return plan.error().WithContext(what);
  auto tar = plan->context.Tar();
  if (!tar) return tar.error().WithContext(what);
  return ContextTag(spec, options_.instance_id, *tar, *plan);
}

core::Result<std::string> Builder::BuildTagged(const spec::FunctionSpec& spec, const BuildPlan& plan,
                                               const std::string& tar, const std::string& tag,
                                               const docker::BuildProgressFn& progress) {
  docker::BuildOptions build{.tags = {tag}, .dockerfile = plan.dockerfile, .no_cache = options_.no_cache};
  build.labels = options_.extra_labels;
  build.build_args = plan.build_args;
  build.labels["gantry.function"] = spec.name();
  build.labels["gantry.namespace"] = spec.namespace_name();
  build.labels["gantry.runtime"] = std::string(spec::RuntimeName(spec.runtime()));
  if (!options_.instance_id.empty()) build.labels[core::kInstanceLabel] = options_.instance_id;
  auto id = docker_.BuildImage(build, docker::ReadFromString(tar), progress);
  // A cached layer whose parent image another build's removal (a prune, a delete) took away
  // while this build used it: the engine fails the step with "unknown parent image ID".
  // Built again, the cache is looked up afresh.
  if (!id && id.error().message().find("unknown parent image ID") != std::string::npos) {
    core::Log(core::LogLevel::kInfo, "build {}: a cached layer went away meanwhile; building again",
              spec.QualifiedName());
    id = docker_.BuildImage(build, docker::ReadFromString(tar), progress);
  }
  // A failed install says which package and why, not only which RUN line.
  if (!id && !plan.installer.empty() && id.error().code() == core::ErrorCode::kInvalidArgument &&
      id.error().message().find(plan.install_run.substr(4)) != std::string::npos) {
    return core::Error::InvalidArgument(DescribeInstallFailure(plan.installer, id.error().message()));
  }
  return id;
}

core::Result<BuiltImage> Builder::Build(const spec::FunctionSpec& spec, const docker::BuildProgressFn& progress) {
  std::string what = fmt::format("build {}", spec.QualifiedName());
  bool lambda = spec.protocol() == spec::Protocol::kLambda;
  if (spec.runtime() == spec::Runtime::kImage) {
    auto image = docker_.InspectImage(spec.image());
    if (!image) {
      if (image.error().code() == core::ErrorCode::kNotFound) {
        return core::Error::NotFound(fmt::format(
            "{}: image {} is not on this engine (no registry is pulled from: build or load it first)", what,
            spec.image()));
      }
      return image.error().WithContext(what);
    }
    if (!lambda) return BuiltImage{.ref = spec.image(), .id = image->id, .cached = true, .http_port = spec.port()};
    // protocol lambda: a tiny build FROM the image adds the shim.
    auto wrap = PlanLambdaWrap(spec, spec.image(), *image, options_.templates);
    if (!wrap) return wrap.error().WithContext(what);
    auto tar = wrap->context.Tar();
    if (!tar) return tar.error().WithContext(what);
    std::string tag = ContextTag(spec, options_.instance_id, *tar, *wrap);
    if (auto existing = docker_.InspectImage(tag)) {
      return BuiltImage{.ref = tag, .id = existing->id, .cached = true, .runtime_api = true};
    } else if (existing.error().code() != core::ErrorCode::kNotFound) {
      return existing.error().WithContext(what);
    }
    auto id = BuildTagged(spec, *wrap, *tar, tag, progress);
    if (!id) return id.error().WithContext(what);
    Prune(spec, tag);
    return BuiltImage{.ref = tag, .id = *id, .cached = false, .runtime_api = true};
  }

  auto plan = PlanBuild(spec, options_.templates);
  if (!plan) return plan.error().WithContext(what);
  auto tar = plan->context.Tar();
  if (!tar) return tar.error().WithContext(what);
  std::string tag = ContextTag(spec, options_.instance_id, *tar, *plan);

  if (auto existing = docker_.InspectImage(tag)) {
    return BuiltImage{
        .ref = tag, .id = existing->id, .cached = true, .http_port = plan->http_port, .runtime_api = plan->runtime_api};
  } else if (existing.error().code() != core::ErrorCode::kNotFound) {
    return existing.error().WithContext(what);
  }

  if (plan->wrap_lambda) {
    // The user's image first, under a tag of its own; its ENTRYPOINT and CMD are what the
    // shim runs. The tag goes once the wrapper is built (the layers stay, as its parent).
    std::string user_tag = tag + "-user";
    auto user_id = BuildTagged(spec, *plan, *tar, user_tag, progress);
    if (!user_id) return user_id.error().WithContext(what);
    auto user = docker_.InspectImage(user_tag);
    if (!user) return user.error().WithContext(what);
    auto wrap = PlanLambdaWrap(spec, user_tag, *user, options_.templates);
    if (!wrap) return wrap.error().WithContext(what);
    auto wrap_tar = wrap->context.Tar();
    if (!wrap_tar) return wrap_tar.error().WithContext(what);
    auto id = BuildTagged(spec, *wrap, *wrap_tar, tag, progress);
    (void)docker_.RemoveImage(user_tag, /*force=*/false);  // only the tag; best effort
    if (!id) return id.error().WithContext(what);
    Prune(spec, tag);
    return BuiltImage{.ref = tag, .id = *id, .cached = false, .runtime_api = true};
  }

  auto id = BuildTagged(spec, *plan, *tar, tag, progress);
  if (!id) return id.error().WithContext(what);
  Prune(spec, tag);
  return BuiltImage{.ref = tag, .id = *id, .cached = false, .http_port = plan->http_port, .runtime_api = plan->runtime_api};
}

int Builder::Prune(const spec::FunctionSpec& spec, const std::string& current) {
  docker::LabelSelector selector = IdentitySelector();
  selector.push_back("gantry.function=" + spec.name());
  selector.push_back("gantry.namespace=" + spec.namespace_name());
  auto images = docker_.ListImages(selector);
  if (!images) return 0;
  std::sort(images->begin(), images->end(),
            [](const docker::ImageInfo& a, const docker::ImageInfo& b) { return a.created_unix > b.created_unix; });
  int kept = 0;
  int removed = 0;
  for (const docker::ImageInfo& image : *images) {
    bool is_current = std::find(image.repo_tags.begin(), image.repo_tags.end(), current) != image.repo_tags.end();
    if (is_current || kept < options_.keep_images - 1) {
      if (!is_current) ++kept;
      continue;
    }
    // An image a container still uses answers kConflict and stays until a later prune.
    if (docker_.RemoveImage(image.id, /*force=*/false).ok()) ++removed;
  }
  return removed;
}

}  // namespace gantry::builder
