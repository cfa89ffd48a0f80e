#include "builder/builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "builder/dependencies.h"
#include "core/identity.h"
#include "core/log.h"
#include "spec/sha256.h"

namespace gantry::builder {
namespace {

constexpr std::size_t kTagHexDigits = 20;
// Changes whenever what a tag stands for does (the layout of the hash, what the templates
// mean): images of an older scheme are then never mistaken for this one's.
constexpr std::string_view kTagScheme = "gantry-image-v2";

void UpdateField(spec::Sha256& h, std::string_view key, std::string_view value) {
  h.Update(std::string_view("\0", 1));
  h.Update(key);
  h.Update(std::string_view("=", 1));
  h.Update(value);
}

}  // namespace

std::string ImageRepository(const std::string& instance_id) {
  if (instance_id.empty()) return "gantry/fn";
  return fmt::format("gantry/{}/fn", instance_id);
}

docker::LabelSelector Builder::IdentitySelector() const {
  docker::LabelSelector selector;
  for (const auto& [k, v] : options_.extra_labels) selector.push_back(k + "=" + v);
  if (!options_.instance_id.empty()) {
    selector.push_back(fmt::format("{}={}", core::kInstanceLabel, options_.instance_id));
  }
  return selector;
}

docker::Labels Builder::ImageLabels(spec::Runtime runtime) const {
  docker::Labels labels = options_.extra_labels;
  labels["gantry.runtime"] = std::string(spec::RuntimeName(runtime));
  if (!options_.instance_id.empty()) labels[core::kInstanceLabel] = options_.instance_id;
  return labels;
}

docker::Labels Builder::StemLabels(spec::Runtime runtime) const {
  docker::Labels labels = options_.extra_labels;
  labels[std::string(kStemLabel)] = std::string(spec::RuntimeName(runtime));
  if (!options_.instance_id.empty()) labels[core::kInstanceLabel] = options_.instance_id;
  return labels;
}

core::Result<std::string> Builder::ContentTag(const docker::Labels& labels, std::string_view tar,
                                              const BuildPlan& plan,
                                              std::string_view tag_prefix) const {
  spec::Sha256 h;
  h.Update(kTagScheme);
  UpdateField(h, "dockerfile", plan.dockerfile);
  UpdateField(h, "context", tar);
  if (plan.wrap_lambda) UpdateField(h, "wrap", "lambda");
  if (!plan.base_image.empty()) {
    // The base's name may point at a rebuilt image (scripts/base-images): its id decides.
    // A base that isn't there is the build's to name (it can't be pulled either).
    auto base = docker_.InspectImage(plan.base_image);
    if (!base && base.error().code() != core::ErrorCode::kNotFound) return base.error();
    UpdateField(h, "base", base ? base->id : "");
  }
  // Another index or registry may resolve the same requirements differently.
  for (const auto& [k, v] : plan.build_args) UpdateField(h, "arg:" + k, v);
  for (const auto& [k, v] : labels) UpdateField(h, "label:" + k, v);
  return fmt::format("{}:{}{}", ImageRepository(options_.instance_id), tag_prefix,
                     spec::Sha256::ToHex(h.Finish()).substr(0, kTagHexDigits));
}

core::Result<Builder::TaggedPlan> Builder::PlanTagged(const spec::FunctionSpec& spec,
                                                      const docker::ImageInfo* wrap_base) const {
  auto plan = wrap_base ? PlanLambdaWrap(spec, spec.image(), *wrap_base, options_.templates)
                        : PlanBuild(spec, options_.templates);
  if (!plan) return plan.error();
  auto tar = plan->context.Tar();
  if (!tar) return tar.error();
  auto tag = ContentTag(ImageLabels(spec.runtime()), *tar, *plan);
  if (!tag) return tag.error();
  return TaggedPlan{std::move(*plan), std::move(*tar), std::move(*tag)};
}

core::Result<std::string> Builder::Tag(const spec::FunctionSpec& spec) const {
  std::string what = fmt::format("build {}", spec.QualifiedName());
  std::optional<docker::ImageInfo> wrap_base;
  if (spec.runtime() == spec::Runtime::kImage) {
    if (spec.protocol() != spec::Protocol::kLambda) return spec.image();
    auto image = docker_.InspectImage(spec.image());
    if (!image) return image.error().WithContext(what);
    wrap_base = std::move(*image);
  }
  auto planned = PlanTagged(spec, wrap_base ? &*wrap_base : nullptr);
  if (!planned) return planned.error().WithContext(what);
  return planned->tag;
}

core::Result<std::string> Builder::BuildTagged(const std::string& what,
                                               const docker::Labels& labels, const BuildPlan& plan,
                                               const std::string& tar, const std::string& tag,
                                               const docker::BuildProgressFn& progress) {
  docker::BuildOptions build{
      .tags = {tag}, .dockerfile = plan.dockerfile, .no_cache = options_.no_cache};
  // No function's name or namespace: the image is any function's with this content.
  build.labels = labels;
  build.build_args = plan.build_args;
  // Built once more if a concurrent image removal took a cached layer away meanwhile.
  auto id = docker::BuildImageFromTar(docker_, build, tar, progress, [&what] {
    core::Log(core::LogLevel::kInfo, "{}: a cached layer went away meanwhile; building again",
              what);
  });
  // A failed install says which package and why, not only which RUN line.
  if (!id && !plan.installer.empty() && id.error().code() == core::ErrorCode::kInvalidArgument &&
      id.error().message().find(plan.install_run.substr(4)) != std::string::npos) {
    return core::Error::InvalidArgument(
        DescribeInstallFailure(plan.installer, id.error().message()));
  }
  return id;
}

core::Result<BuiltImage> Builder::Build(const spec::FunctionSpec& spec,
                                        const docker::BuildProgressFn& progress) {
  std::string what = fmt::format("build {}", spec.QualifiedName());
  bool lambda = spec.protocol() == spec::Protocol::kLambda;
  if (spec.runtime() == spec::Runtime::kImage) {
    auto image = docker_.InspectImage(spec.image());
    if (!image) {
      if (image.error().code() == core::ErrorCode::kNotFound) {
        return core::Error::NotFound(
            fmt::format("{}: image {} is not on this engine (no registry is pulled from: build or "
                        "load it first)",
                        what, spec.image()));
      }
      return image.error().WithContext(what);
    }
    if (!lambda) {
      return BuiltImage{
          .ref = spec.image(), .id = image->id, .cached = true, .http_port = spec.port()};
    }
    // protocol lambda: a tiny build FROM the image adds the shim.
    auto wrap = PlanTagged(spec, &*image);
    if (!wrap) return wrap.error().WithContext(what);
    if (auto existing = docker_.InspectImage(wrap->tag)) {
      return BuiltImage{.ref = wrap->tag, .id = existing->id, .cached = true, .runtime_api = true};
    } else if (existing.error().code() != core::ErrorCode::kNotFound) {
      return existing.error().WithContext(what);
    }
    auto id =
        BuildTagged(what, ImageLabels(spec.runtime()), wrap->plan, wrap->tar, wrap->tag, progress);
    if (!id) return id.error().WithContext(what);
    return BuiltImage{.ref = wrap->tag, .id = *id, .cached = false, .runtime_api = true};
  }

  auto planned = PlanTagged(spec, nullptr);
  if (!planned) return planned.error().WithContext(what);
  const auto& [plan, tar, tag] = *planned;
  BuiltImage image{.ref = tag,
                   .http_port = plan.http_port,
                   .runtime_api = plan.runtime_api,
                   .env = plan.container_env};

  if (auto existing = docker_.InspectImage(tag)) {
    image.id = existing->id;
    image.cached = true;
    return image;
  } else if (existing.error().code() != core::ErrorCode::kNotFound) {
    return existing.error().WithContext(what);
  }

  if (plan.wrap_lambda) {
    // The user's image first, under a tag of its own; its ENTRYPOINT and CMD are what the
    // shim runs. The tag goes once the wrapper is built (the layers stay, as its parent).
    std::string user_tag = tag + "-user";
    auto user_id = BuildTagged(what, ImageLabels(spec.runtime()), plan, tar, user_tag, progress);
    if (!user_id) return user_id.error().WithContext(what);
    auto user = docker_.InspectImage(user_tag);
    if (!user) return user.error().WithContext(what);
    auto wrap = PlanLambdaWrap(spec, user_tag, *user, options_.templates);
    if (!wrap) return wrap.error().WithContext(what);
    auto wrap_tar = wrap->context.Tar();
    if (!wrap_tar) return wrap_tar.error().WithContext(what);
    auto id = BuildTagged(what, ImageLabels(spec.runtime()), *wrap, *wrap_tar, tag, progress);
    // Only the tag goes (the wrapper is its child); left behind, it is an unused image of
    // this builder's that RemoveUnused takes later.
    if (auto untagged = docker_.RemoveImage(user_tag, /*force=*/false);
        !untagged && untagged.error().code() != core::ErrorCode::kNotFound) {
      core::Log(core::LogLevel::kWarn, "{}: remove the tag {}: {}", what, user_tag,
                untagged.error().ToString());
    }
    if (!id) return id.error().WithContext(what);
    image.id = *id;
    return image;
  }

  auto id = BuildTagged(what, ImageLabels(spec.runtime()), plan, tar, tag, progress);
  if (!id) return id.error().WithContext(what);
  image.id = *id;
  return image;
}

core::Result<BuiltImage> Builder::BuildStem(spec::Runtime runtime,
                                            const docker::BuildProgressFn& progress) {
  std::string what = fmt::format("build the {} stem image", spec::RuntimeName(runtime));
  auto plan = PlanStemBuild(runtime, options_.templates);
  if (!plan) return plan.error().WithContext(what);
  auto tar = plan->context.Tar();
  if (!tar) return tar.error().WithContext(what);
  docker::Labels labels = StemLabels(runtime);
  auto tag = ContentTag(labels, *tar, *plan, fmt::format("stem-{}-", spec::RuntimeName(runtime)));
  if (!tag) return tag.error().WithContext(what);
  BuiltImage image{.ref = *tag, .runtime_api = plan->runtime_api};
  if (auto existing = docker_.InspectImage(*tag)) {
    image.id = existing->id;
    image.cached = true;
    return image;
  } else if (existing.error().code() != core::ErrorCode::kNotFound) {
    return existing.error().WithContext(what);
  }
  auto id = BuildTagged(what, labels, *plan, *tar, *tag, progress);
  if (!id) return id.error().WithContext(what);
  image.id = *id;
  RemoveOlderStems(runtime, image.id);
  return image;
}

void Builder::RemoveOlderStems(spec::Runtime runtime, const std::string& keep_id) {
  docker::LabelSelector selector = IdentitySelector();
  if (selector.empty()) return;  // no identity: they could be another builder's
  selector.push_back(fmt::format("{}={}", kStemLabel, spec::RuntimeName(runtime)));
  auto images = docker_.ListImages(selector);
  if (!images) {
    core::Log(core::LogLevel::kWarn, "images: list stem images: {}", images.error().ToString());
    return;
  }
  for (const docker::ImageInfo& image : *images) {
    if (image.id == keep_id) continue;
    // Cells still running an old one keep it (kConflict) until the next new stem image.
    auto status = docker_.RemoveImage(image.id, /*force=*/false);
    if (!status && status.error().code() != core::ErrorCode::kConflict &&
        status.error().code() != core::ErrorCode::kNotFound) {
      core::Log(core::LogLevel::kWarn, "images: remove stem image {}: {}", image.id,
                status.error().ToString());
    }
  }
}

int Builder::RemoveUnused(const std::set<std::string>& in_use, bool keep_recent) {
  docker::LabelSelector selector = IdentitySelector();
  if (selector.empty()) return 0;
  // gantry.runtime: made by a Builder (a user's image may carry the identity labels too).
  selector.push_back("gantry.runtime");
  auto images = docker_.ListImages(selector);
  if (!images) {
    core::Log(core::LogLevel::kWarn, "images: list unused: {}", images.error().ToString());
    return 0;
  }
  std::sort(
      images->begin(), images->end(), [](const docker::ImageInfo& a, const docker::ImageInfo& b) {
        return a.created_unix != b.created_unix ? a.created_unix > b.created_unix : a.id < b.id;
      });
  int kept = 0;
  int removed = 0;
  for (const docker::ImageInfo& image : *images) {
    bool used = in_use.count(image.id) > 0 ||
                std::any_of(image.repo_tags.begin(), image.repo_tags.end(),
                            [&](const std::string& tag) { return in_use.count(tag) > 0; });
    if (used) continue;
    // An untagged image is never found again (a lambda build's user image): no cache.
    if (keep_recent && !image.repo_tags.empty() && kept < options_.keep_unused) {
      ++kept;
      continue;
    }
    auto status = docker_.RemoveImage(image.id, /*force=*/false);
    if (status) {
      ++removed;
    } else if (status.error().code() != core::ErrorCode::kConflict &&
               status.error().code() != core::ErrorCode::kNotFound) {
      core::Log(core::LogLevel::kWarn, "images: remove {}: {}", image.id,
                status.error().ToString());
    }
  }
  return removed;
}

}  // namespace gantry::builder
