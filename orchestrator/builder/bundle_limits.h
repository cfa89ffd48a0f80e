#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::builder {

// How large a function bundle (bundle.h) gantryd accepts, like Lambda's deployment package
// limits: `max_upload` bytes as sent (gantryd --max-upload), `max_unpacked` bytes of files
// once extracted (gantryd --max-unpacked). Plain values; the server enforces them and
// advertises them to the CLI, which checks before it sends.
struct BundleLimits {
  std::uint64_t max_upload = std::uint64_t{50} << 20;
  std::uint64_t max_unpacked = std::uint64_t{250} << 20;

  // {"maxUploadBytes": N, "maxUnpackedBytes": M}; FromJson leaves a missing field at its
  // default.
  nlohmann::json ToJson() const;
  static BundleLimits FromJson(const nlohmann::json& j);
};

// The bytes a bundle's files take once extracted (the sizes its headers declare), reading
// headers only. kInvalidArgument for what is not a tar archive.
core::Result<std::uint64_t> BundleUnpackedSize(std::string_view tar);

// A bundle over a limit: what the server answers (413) and the CLI prints.
struct BundleTooLarge {
  std::string message;  // both sizes, the limit and the gantryd flag that raises it
  nlohmann::json ToJson()
      const;  // {"error": message, "uploadBytes", "unpackedBytes", "limitBytes", "flag"}
  std::uint64_t upload_bytes = 0;
  std::uint64_t unpacked_bytes = 0;
  std::uint64_t limit_bytes = 0;
  std::string flag;  // "--max-upload" or "--max-unpacked"
};

// nullopt when a bundle of `upload_bytes` unpacking to `unpacked_bytes` is within `limits`.
std::optional<BundleTooLarge> CheckBundleSize(std::uint64_t upload_bytes,
                                              std::uint64_t unpacked_bytes,
                                              const BundleLimits& limits);

}  // namespace gantry::builder
