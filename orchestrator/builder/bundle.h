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

// The bundle as the CLI uploads it: gzip-compressed (the digest stays that of the tar).
// kInternal on a libarchive failure.
core::Result<std::string> CompressBundle(std::string_view tar);

// The tar of an uploaded bundle: `body` itself when it is not gzip, else decompressed, at
// most `max_bytes` of it: `truncated` says there was more (a bundle that unpacks past a
// limit is refused without being held in memory whole). kInvalidArgument for corrupt gzip.
struct UncompressedBundle {
  std::string tar;
  bool truncated = false;
};
core::Result<UncompressedBundle> UncompressBundle(std::string_view body, std::size_t max_bytes);

// Extracts a bundle into the existing empty directory `dir`, refusing absolute paths, ".."
// and links that leave `dir`. kInvalidArgument for a malformed or unsafe archive, or one
// without function.json.
core::Status ExtractBundle(std::string_view tar, const std::string& dir);

}  // namespace gantry::builder
