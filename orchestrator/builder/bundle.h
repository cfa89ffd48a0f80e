#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "spec/function_spec.h"

namespace gantry::builder {

// A function bundle: what `gantry apply` uploads for one function. A tar stream holding
//   function.json   the spec's canonical JSON (a valid manifest; null fields left out,
//                   spec.source rewritten to "source" when there is one)
//   source/...      the source directory after .dockerignore/.gantryignore
// The server extracts it and loads function.json like any manifest, so it validates
// everything again and resolves the source to the extracted copy.
inline constexpr std::string_view kBundleManifest = "function.json";
inline constexpr std::string_view kBundleSource = "source";

// Builds the bundle of `spec` (reading spec.source_path()). kNotFound when the source is
// missing; kInvalidArgument past the size limits.
core::Result<std::string> MakeBundle(const spec::FunctionSpec& spec);

// "sha256:<hex>" of the bundle's bytes. Bundles are deterministic, so this names what is
// deployed: equal for equal specs and sources wherever the manifest lives, unchanged by
// ignored files. Apply compares it to answer "unchanged"; a client can offer it before
// uploading.
std::string BundleDigest(std::string_view bundle);

// Extracts a bundle into the existing empty directory `dir`, refusing absolute paths, ".."
// and links that leave `dir`. kInvalidArgument for a malformed or unsafe archive, or one
// without function.json.
core::Status ExtractBundle(std::string_view tar, const std::string& dir);

}  // namespace gantry::builder
