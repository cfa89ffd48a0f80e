#include "builder/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <filesystem>

#include "builder/build_context.h"
#include "spec/sha256.h"

namespace gantry::builder {
namespace {

// Canonical JSON with null members removed (the manifest format has no nulls).
nlohmann::json WithoutNulls(const nlohmann::json& j) {
  if (!j.is_object()) return j;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : j.items()) {
    if (!v.is_null()) out[k] = WithoutNulls(v);
  }
  return out;
}

// A relative path that stays inside the directory it is extracted to.
bool SafeName(std::string_view name) {
  if (name.empty() || name.front() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    std::string_view part = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part == "..") return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

}  // namespace

core::Result<std::string> MakeBundle(const spec::FunctionSpec& spec) {
  nlohmann::json manifest = WithoutNulls(spec::ToCanonicalJson(spec));
  BuildContext bundle;
  if (!spec.source_path().empty()) {
    manifest["spec"]["source"] = std::string(kBundleSource);
    if (auto s = bundle.AddDirectory(spec.source_path(), kBundleSource,
                                     ReadIgnoreFiles(spec.source_path()));
        !s) {
      return s.error();
    }
    // An empty source directory must still exist after extraction.
    if (!bundle.Contains(std::string(kBundleSource)))
      bundle.AddDirectoryEntry(std::string(kBundleSource));
  }
  bundle.AddFile(std::string(kBundleManifest), manifest.dump(2) + "\n");
  return bundle.Tar();
}

std::string BundleDigest(std::string_view bundle) {
  return "sha256:" + spec::Sha256::HexDigest(bundle);
}

core::Result<std::string> CompressBundle(std::string_view tar) {
  std::string out;
  struct archive* a = archive_write_new();
  auto fail = [&](std::string_view what) {
    std::string msg =
        fmt::format("compressing the bundle: {}: {}", what,
                    archive_error_string(a) == nullptr ? "" : archive_error_string(a));
    archive_write_free(a);
    return core::Error::Internal(std::move(msg));
  };
  if (archive_write_set_format_raw(a) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(a) != ARCHIVE_OK) {
    return fail("format");
  }
  // No timestamp in the gzip header: the same bundle gives the same bytes.
  archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
  archive_write_set_bytes_in_last_block(a, 1);
  auto append = [](struct archive*, void* user, const void* buffer, size_t length) -> la_ssize_t {
    static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  };
  if (archive_write_open(a, &out, nullptr, append, nullptr) != ARCHIVE_OK) return fail("open");
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "bundle.tar");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_size(entry, static_cast<la_int64_t>(tar.size()));
  int rc = archive_write_header(a, entry);
  archive_entry_free(entry);
  if (rc != ARCHIVE_OK) return fail("header");
  if (!tar.empty() &&
      archive_write_data(a, tar.data(), tar.size()) != static_cast<la_ssize_t>(tar.size())) {
    return fail("data");
  }
  if (archive_write_close(a) != ARCHIVE_OK) return fail("close");
  archive_write_free(a);
  return out;
}

core::Result<UncompressedBundle> UncompressBundle(std::string_view body, std::size_t max_bytes) {
  if (body.size() < 2 || static_cast<unsigned char>(body[0]) != 0x1f ||
      static_cast<unsigned char>(body[1]) != 0x8b) {
    return UncompressedBundle{.tar = std::string(body)};
  }
  struct archive* in = archive_read_new();
  archive_read_support_filter_gzip(in);
  archive_read_support_format_raw(in);
  auto fail = [&](std::string_view what) {
    std::string msg =
        fmt::format("bundle: {}: {}", what,
                    archive_error_string(in) == nullptr ? "" : archive_error_string(in));
    archive_read_free(in);
    return core::Error::InvalidArgument(std::move(msg));
  };
  struct archive_entry* entry = nullptr;
  if (archive_read_open_memory(in, body.data(), body.size()) != ARCHIVE_OK ||
      archive_read_next_header(in, &entry) != ARCHIVE_OK) {
    return fail("not gzip");
  }
  UncompressedBundle out;
  char buffer[65536];
  for (;;) {
    la_ssize_t n = archive_read_data(in, buffer, sizeof buffer);
    if (n < 0) return fail("corrupt gzip");
    if (n == 0) break;
    if (out.tar.size() + static_cast<std::size_t>(n) > max_bytes) {
      out.truncated = true;
      break;
    }
    out.tar.append(buffer, static_cast<std::size_t>(n));
  }
  archive_read_free(in);
  return out;
}

core::Status ExtractBundle(std::string_view tar, const std::string& dir) {
  struct archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  struct archive* out = archive_write_disk_new();
  // Entries are re-targeted below `dir` (an absolute path), so names are checked here and
  // libarchive guards against writing through links.
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_PERM);
  auto fail = [&](std::string what) {
    archive_read_free(in);
    archive_write_free(out);
    return core::Error::InvalidArgument(fmt::format("bundle: {}", what));
  };
  if (archive_read_open_memory(in, tar.data(), tar.size()) != ARCHIVE_OK) {
    return fail(fmt::format("not a tar archive: {}", archive_error_string(in)));
  }
  bool has_manifest = false;
  struct archive_entry* entry = nullptr;
  int rc;
  while ((rc = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(entry);
    if (!SafeName(name))
      return fail(fmt::format("{}: absolute or \"..\" paths are not allowed", name));
    if (name == kBundleManifest) has_manifest = true;
    int type = static_cast<int>(archive_entry_filetype(entry));
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      return fail(fmt::format("{}: not a file", name));
    if (type == AE_IFLNK) {
      // Links stay links inside the source, never a way out of it (to the host's files).
      const char* link = archive_entry_symlink(entry);
      std::string_view source_rel =
          std::string_view(name).substr(std::min(name.size(), kBundleSource.size() + 1));
      if (link == nullptr || name.rfind(std::string(kBundleSource) + "/", 0) != 0 ||
          !LinkStaysInside(source_rel, link)) {
        return fail(fmt::format("{}: a symlink to {}, outside the source tree", name,
                                link == nullptr ? "?" : link));
      }
    }
    if (type == AE_IFREG && archive_entry_hardlink(entry) != nullptr)
      return fail(fmt::format("{}: a hard link", name));
    std::string target = (std::filesystem::path(dir) / name).string();
    archive_entry_set_pathname(entry, target.c_str());
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    if (archive_write_header(out, entry) != ARCHIVE_OK) {
      return fail(fmt::format("{}: {}", name, archive_error_string(out)));
    }
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r;
    while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK) {
        return fail(fmt::format("{}: {}", name, archive_error_string(out)));
      }
    }
    if (r != ARCHIVE_EOF) return fail(fmt::format("{}: {}", name, archive_error_string(in)));
    if (archive_write_finish_entry(out) != ARCHIVE_OK)
      return fail(fmt::format("{}: {}", name, archive_error_string(out)));
  }
  if (rc != ARCHIVE_EOF)
    return fail(fmt::format("malformed archive: {}", archive_error_string(in)));
  archive_read_free(in);
  archive_write_free(out);
  if (!has_manifest)
    return core::Error::InvalidArgument(fmt::format("bundle: no {} in it", kBundleManifest));
  return core::Ok();
}

}  // namespace gantry::builder
