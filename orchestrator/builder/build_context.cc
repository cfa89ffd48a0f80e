#include "builder/build_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace gantry::builder {
namespace {

namespace fs = std::filesystem;

core::Result<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Error::NotFound(fmt::format("cannot read {}", path.string()));
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

bool IsExecutable(const fs::file_status& st) {
  return (st.permissions() & (fs::perms::owner_exec | fs::perms::group_exec |
                              fs::perms::others_exec)) != fs::perms::none;
}

la_ssize_t AppendTo(struct archive*, void* user, const void* buffer, size_t length) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

std::string Join(std::string_view prefix, std::string_view rel) {
  if (prefix.empty()) return std::string(rel);
  return std::string(prefix) + "/" + std::string(rel);
}

}  // namespace

bool LinkStaysInside(std::string_view rel, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  int depth = 0;
  fs::path resolved = fs::path(std::string(rel)).parent_path() / std::string(target);
  for (const fs::path& part : resolved) {
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (part != "." && !part.empty()) {
      ++depth;
    }
  }
  return true;
}

core::Status BuildContext::AddDirectory(const std::string& dir, std::string_view prefix,
                                        const IgnoreRules& ignore) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return core::Error::NotFound(fmt::format("source directory {} does not exist", dir));
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return core::Error::NotFound(fmt::format("cannot read {}: {}", dir, ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return core::Error::NotFound(fmt::format("cannot read {}: {}", dir, ec.message()));
    // Lexically: fs::relative would resolve a symlink and name the entry after its target.
    std::string rel = it->path().lexically_relative(dir).generic_string();
    fs::file_status st = it->symlink_status(ec);
    bool is_dir = fs::is_directory(st);
    if (ignore.Excluded(rel) || rel == ".gantryignore") {
      // An excluded directory can hold re-included files only when a "!" rule exists;
      // without one, the whole subtree is skipped unread.
      if (is_dir && !ignore.HasExceptions()) it.disable_recursion_pending();
      continue;
    }
    if (entries_.size() >= ContextLimits{}.max_entries) {
      return core::Error::InvalidArgument(
          fmt::format("{} has more than {} files", dir, ContextLimits{}.max_entries));
    }
    ContextEntry e{.path = Join(prefix, rel)};
    if (fs::is_symlink(st)) {
      e.type = ContextEntry::Type::kSymlink;
      e.content = fs::read_symlink(it->path(), ec).string();
      if (ec) {
        return core::Error::NotFound(
            fmt::format("cannot read link {}: {}", it->path().string(), ec.message()));
      }
      if (!LinkStaysInside(rel, e.content)) {
        return core::Error::InvalidArgument(fmt::format(
            "{} is a symlink to {}, outside the source tree {}: links are kept as links and must "
            "point inside it (copy the file in, or leave it out with .gantryignore)",
            it->path().string(), e.content, dir));
      }
    } else if (is_dir) {
      e.type = ContextEntry::Type::kDirectory;
    } else if (fs::is_regular_file(st)) {
      auto bytes = ReadWhole(it->path());
      if (!bytes) return bytes.error();
      e.content = std::move(*bytes);
      e.executable = IsExecutable(st);
    } else {
      continue;  // sockets, fifos, devices: nothing to build with
    }
    bytes_ += e.content.size();
    if (bytes_ > ContextLimits{}.max_bytes) {
      return core::Error::InvalidArgument(fmt::format(
          "{} holds more than {} MiB (use .gantryignore)", dir, ContextLimits{}.max_bytes >> 20));
    }
    entries_.push_back(std::move(e));
  }
  return core::Ok();
}

void BuildContext::AddFile(std::string path, std::string content, bool executable) {
  std::erase_if(entries_, [&](const ContextEntry& e) { return e.path == path; });
  bytes_ += content.size();
  entries_.push_back(
      {.path = std::move(path), .executable = executable, .content = std::move(content)});
}

void BuildContext::AddDirectoryEntry(std::string path) {
  entries_.push_back({.path = std::move(path), .type = ContextEntry::Type::kDirectory});
}

core::Status BuildContext::AddHostFile(const std::string& source, std::string path,
                                       bool executable) {
  auto bytes = ReadWhole(source);
  if (!bytes) return bytes.error();
  AddFile(std::move(path), std::move(*bytes), executable);
  return core::Ok();
}

bool BuildContext::Contains(std::string_view path) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const ContextEntry& e) { return e.path == path; });
}

const ContextEntry* BuildContext::Find(std::string_view path) const {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const ContextEntry& e) { return e.path == path; });
  return it == entries_.end() ? nullptr : &*it;
}

core::Result<std::string> BuildContext::Tar(const ContextLimits& limits) const {
  if (entries_.size() > limits.max_entries || bytes_ > limits.max_bytes) {
    return core::Error::InvalidArgument("build context is over its size limits");
  }
  // Parent directories of every entry, so extraction never depends on defaults.
  std::vector<const ContextEntry*> sorted;
  std::set<std::string> dirs;
  for (const ContextEntry& e : entries_) {
    sorted.push_back(&e);
    for (std::size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      dirs.insert(e.path.substr(0, slash));
    }
  }
  std::vector<ContextEntry> implied;
  for (const std::string& d : dirs) {
    if (!Contains(d)) implied.push_back({.path = d, .type = ContextEntry::Type::kDirectory});
  }
  for (const ContextEntry& e : implied) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const ContextEntry* a, const ContextEntry* b) { return a->path < b->path; });

  std::string out;
  struct archive* a = archive_write_new();
  auto fail = [&](std::string_view what) {
    std::string msg =
        fmt::format("writing the build context: {}: {}", what, archive_error_string(a));
    archive_write_free(a);
    return core::Error::Internal(std::move(msg));
  };
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK) return fail("format");
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, &out, nullptr, AppendTo, nullptr) != ARCHIVE_OK) return fail("open");
  for (const ContextEntry* e : sorted) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e->path.c_str());
    archive_entry_set_mtime(entry, 0, 0);
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    switch (e->type) {
      case ContextEntry::Type::kDirectory:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case ContextEntry::Type::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_set_symlink(entry, e->content.c_str());
        break;
      case ContextEntry::Type::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, e->executable ? 0755 : 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e->content.size()));
        break;
    }
    int rc = archive_write_header(a, entry);
    archive_entry_free(entry);
    if (rc != ARCHIVE_OK) return fail(e->path);
    if (e->type == ContextEntry::Type::kFile && !e->content.empty() &&
        archive_write_data(a, e->content.data(), e->content.size()) !=
            static_cast<la_ssize_t>(e->content.size())) {
      return fail(e->path);
    }
  }
  if (archive_write_close(a) != ARCHIVE_OK) return fail("close");
  archive_write_free(a);
  return out;
}

IgnoreRules ReadIgnoreFiles(const std::string& dir) {
  IgnoreRules rules;
  for (const char* name : {".dockerignore", ".gantryignore"}) {
    auto text = ReadWhole(fs::path(dir) / name);
    if (text) rules.Append(IgnoreRules::Parse(*text));
  }
  return rules;
}

}  // namespace gantry::builder
