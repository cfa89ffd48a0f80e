#include "builder/package_export.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <random>

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

// A package bigger than this is not one a stem cell should copy.
constexpr size_t kMaxArchiveBytes = size_t{1} << 30;

// Whether `name` (a tar entry's path) stays inside the tree: relative, no "..".
bool InsideTree(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name)) {
    if (part == "..") return false;
  }
  return true;
}

// Whether a symlink at `name` pointing at `target` stays inside the tree.
bool LinkInsideTree(const std::string& name, const std::string& target) {
  if (target.empty() || target.front() == '/') return false;
  fs::path resolved = (fs::path(name).parent_path() / target).lexically_normal();
  return !resolved.empty() && *resolved.begin() != "..";
}

// Extracts the tar `bytes` below `root`, by the rules of ExportPackage.
core::Status Extract(const std::string& bytes, const std::string& root, const std::string& what) {
  struct archive* in = archive_read_new();
  struct archive* out = archive_write_disk_new();
  archive_read_support_format_tar(in);
  // Entries are written at root + "/" + name, an absolute path: each entry's own name was
  // checked to be relative (InsideTree), so NOABSOLUTEPATHS would only refuse `root`.
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  auto done = [&](core::Status s) {
    archive_read_free(in);
    archive_write_free(out);
    return s;
  };
  if (archive_read_open_memory(in, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return done(core::Error::InvalidArgument(
        fmt::format("{}: not a tar stream: {}", what, archive_error_string(in))));
  }
  for (;;) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(in, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      return done(core::Error::InvalidArgument(
          fmt::format("{}: read: {}", what, archive_error_string(in))));
    }
    const char* raw = archive_entry_pathname(entry);
    std::string name = raw ? raw : "";
    auto refuse = [&](const char* why) {
      return done(core::Error::InvalidArgument(fmt::format("{}: entry {}: {}", what, name, why)));
    };
    if (!InsideTree(name)) return refuse("outside the package");
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink != nullptr) {
      if (!InsideTree(hardlink)) return refuse("a hard link outside the package");
      archive_entry_set_hardlink(entry, (root + "/" + hardlink).c_str());
    } else {
      mode_t type = archive_entry_filetype(entry);
      if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        if (target == nullptr || !LinkInsideTree(name, target)) {
          return refuse("a symlink out of the package");
        }
      } else if (type != AE_IFREG && type != AE_IFDIR) {
        return refuse("not a file, directory or link");
      }
    }
    archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);  // no setuid/setgid
    archive_entry_set_pathname(entry, (root + "/" + name).c_str());
    if (archive_write_header(out, entry) != ARCHIVE_OK) {
      return done(core::Error::Internal(
          fmt::format("{}: write {}: {}", what, name, archive_error_string(out))));
    }
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((r = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, block, size, offset) != ARCHIVE_OK) {
        return done(core::Error::Internal(
            fmt::format("{}: write {}: {}", what, name, archive_error_string(out))));
      }
    }
    if (r != ARCHIVE_EOF) {
      return done(core::Error::InvalidArgument(
          fmt::format("{}: read {}: {}", what, name, archive_error_string(in))));
    }
    if (archive_write_finish_entry(out) != ARCHIVE_OK) {
      return done(core::Error::Internal(
          fmt::format("{}: finish {}: {}", what, name, archive_error_string(out))));
    }
  }
  return done(core::Ok());
}

// The tar of `path` in container `id`; nullopt when the image has no such path.
core::Result<std::optional<std::string>> ReadTree(docker::DockerClient& docker,
                                                  const std::string& id, const std::string& path) {
  std::string bytes;
  bool too_big = false;
  auto s = docker.CopyFromContainer(id, path, [&](std::string_view data) {
    if (bytes.size() + data.size() > kMaxArchiveBytes) {
      too_big = true;
      return false;
    }
    bytes.append(data);
    return true;
  });
  if (!s) {
    if (s.error().code() == core::ErrorCode::kNotFound) return std::optional<std::string>();
    return s.error();
  }
  if (too_big) {
    return core::Error::InvalidArgument(
        fmt::format("{} is bigger than {} MiB", path, kMaxArchiveBytes >> 20));
  }
  return std::optional<std::string>(std::move(bytes));
}

}  // namespace

core::Result<std::string> ExportPackage(docker::DockerClient& docker, const std::string& image,
                                        const std::string& dest_dir, const docker::Labels& labels) {
  std::error_code ec;
  if (fs::is_directory(dest_dir, ec)) return dest_dir;
  std::string what = fmt::format("export the package of {}", image);
  fs::create_directories(fs::path(dest_dir).parent_path(), ec);
  std::string temp = fmt::format("{}.tmp-{}-{:x}", dest_dir, ::getpid(), std::random_device{}());
  fs::remove_all(temp, ec);
  for (const char* sub : {"", "/task", "/deps"}) {
    if (!fs::create_directory(temp + sub, ec) && ec) {
      return core::Error::Internal(
          fmt::format("{}: create {}{}: {}", what, temp, sub, ec.message()));
    }
  }
  docker::ContainerSpec spec;
  spec.image = image;
  spec.labels = labels;
  spec.network_mode = "none";
  auto id = docker.CreateContainer(spec);
  if (!id) {
    fs::remove_all(temp, ec);
    return id.error().WithContext(what);
  }
  core::Status status = core::Ok();
  for (const std::string path : {"/var/task", "/opt/gantry/deps"}) {
    auto tree = ReadTree(docker, *id, path);
    if (!tree) {
      status = tree.error().WithContext(what);
      break;
    }
    if (!*tree) continue;  // no dependencies (or no code: an exec function's command only)
    // The archive's entries are named after the path's last part ("task/...", "deps/..."):
    // extracted into `temp` they land in temp/task and temp/deps.
    if (auto s = Extract(**tree, temp, fmt::format("{} ({})", what, path)); !s) {
      status = s;
      break;
    }
  }
  if (auto removed = docker.RemoveContainer(*id, {.force = true}); !removed && status.ok()) {
    status = removed.error().WithContext(what);
  }
  if (!status.ok()) {
    fs::remove_all(temp, ec);
    return status.error();
  }
  fs::rename(temp, dest_dir, ec);
  if (ec) {
    fs::remove_all(temp, ec);
    // Another export of the same image won the race: its tree is as good.
    if (fs::is_directory(dest_dir)) return dest_dir;
    return core::Error::Internal(fmt::format("{}: rename to {}", what, dest_dir));
  }
  return dest_dir;
}

}  // namespace gantry::builder
