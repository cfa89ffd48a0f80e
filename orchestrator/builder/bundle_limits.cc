#include "builder/bundle_limits.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

namespace gantry::builder {
namespace {

std::string Mebibytes(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

nlohmann::json BundleLimits::ToJson() const {
  return {{"maxUploadBytes", max_upload}, {"maxUnpackedBytes", max_unpacked}};
}

BundleLimits BundleLimits::FromJson(const nlohmann::json& j) {
  BundleLimits limits;
  if (!j.is_object()) return limits;
  if (auto it = j.find("maxUploadBytes"); it != j.end() && it->is_number_unsigned()) {
    limits.max_upload = it->get<std::uint64_t>();
  }
  if (auto it = j.find("maxUnpackedBytes"); it != j.end() && it->is_number_unsigned()) {
    limits.max_unpacked = it->get<std::uint64_t>();
  }
  return limits;
}

core::Result<std::uint64_t> BundleUnpackedSize(std::string_view tar) {
  struct archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  if (archive_read_open_memory(in, tar.data(), tar.size()) != ARCHIVE_OK) {
    std::string why = archive_error_string(in) == nullptr ? "" : archive_error_string(in);
    archive_read_free(in);
    return core::Error::InvalidArgument(fmt::format("bundle: not a tar archive: {}", why));
  }
  std::uint64_t total = 0;
  struct archive_entry* entry = nullptr;
  int rc;
  while ((rc = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      total += static_cast<std::uint64_t>(archive_entry_size(entry));
    }
  }
  std::string why =
      rc == ARCHIVE_EOF || archive_error_string(in) == nullptr ? "" : archive_error_string(in);
  archive_read_free(in);
  if (rc != ARCHIVE_EOF)
    return core::Error::InvalidArgument(fmt::format("bundle: malformed archive: {}", why));
  return total;
}

nlohmann::json BundleTooLarge::ToJson() const {
  return {{"error", message},
          {"uploadBytes", upload_bytes},
          {"unpackedBytes", unpacked_bytes},
          {"limitBytes", limit_bytes},
          {"flag", flag}};
}

std::optional<BundleTooLarge> CheckBundleSize(std::uint64_t upload_bytes,
                                              std::uint64_t unpacked_bytes,
                                              const BundleLimits& limits) {
  BundleTooLarge out{.upload_bytes = upload_bytes, .unpacked_bytes = unpacked_bytes};
  std::string what;
  if (upload_bytes > limits.max_upload) {
    out.limit_bytes = limits.max_upload;
    out.flag = "--max-upload";
    what = "upload";
  } else if (unpacked_bytes > limits.max_unpacked) {
    out.limit_bytes = limits.max_unpacked;
    out.flag = "--max-unpacked";
    what = "unpacked";
  } else {
    return std::nullopt;
  }
  out.message = fmt::format(
      "the function's bundle is {} to upload and {} unpacked, over gantryd's {} limit of {}: leave "
      "files out "
      "with .gantryignore, or raise the limit with gantryd {}",
      Mebibytes(upload_bytes), Mebibytes(unpacked_bytes), what, Mebibytes(out.limit_bytes),
      out.flag);
  return out;
}

}  // namespace gantry::builder
