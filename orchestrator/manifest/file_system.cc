#include "manifest/file_system.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "spec/validate.h"

namespace gantry::manifest {
namespace fs = std::filesystem;

namespace {

FileSystem::Type FromStatus(const fs::file_status& status) {
  switch (status.type()) {
    case fs::file_type::not_found:
      return FileSystem::Type::kMissing;
    case fs::file_type::regular:
      return FileSystem::Type::kFile;
    case fs::file_type::directory:
      return FileSystem::Type::kDirectory;
    case fs::file_type::symlink:
      return FileSystem::Type::kSymlink;
    default:
      return FileSystem::Type::kOther;
  }
}

}  // namespace

FileSystem::Type LocalFileSystem::Stat(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec) return Type::kMissing;
  return FromStatus(status);
}

core::Result<std::string> LocalFileSystem::ReadFile(const std::string& path,
                                                    std::size_t max_bytes) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || status.type() == fs::file_type::not_found) {
    return core::Error::NotFound("no such file or directory");
  }
  if (status.type() == fs::file_type::directory) {
    return core::Error::InvalidArgument("is a directory");
  }
  if (status.type() != fs::file_type::regular) {
    return core::Error::InvalidArgument("not a regular file");
  }
  std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > max_bytes) {
    return core::Error::InvalidArgument(
        fmt::format("file is {} bytes; the limit is {} bytes", size, max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Error::Unavailable("cannot open for reading");
  std::string content;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
    // The size may have grown since it was checked; stop at the limit regardless.
    if (content.size() > max_bytes) {
      return core::Error::InvalidArgument(
          fmt::format("file is more than {} bytes; the limit is {} bytes", max_bytes, max_bytes));
    }
  }
  if (in.bad()) return core::Error::Unavailable("read error");
  return content;
}

core::Result<std::vector<FileSystem::Entry>> LocalFileSystem::ListDirectory(
    const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || status.type() == fs::file_type::not_found) {
    return core::Error::NotFound("no such file or directory");
  }
  if (status.type() != fs::file_type::directory)
    return core::Error::InvalidArgument("not a directory");
  std::vector<Entry> entries;
  fs::directory_iterator it(path, ec);
  if (ec) return core::Error::Unavailable(fmt::format("cannot list: {}", ec.message()));
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return core::Error::Unavailable(fmt::format("cannot list: {}", ec.message()));
    Entry entry;
    entry.name = it->path().filename().string();
    fs::file_status link_status = it->symlink_status(ec);
    if (ec)
      return core::Error::Unavailable(fmt::format("cannot stat {}: {}", entry.name, ec.message()));
    entry.type = FromStatus(link_status);
    entry.executable = (link_status.permissions() & fs::perms::owner_exec) != fs::perms::none;
    if (entry.type == Type::kSymlink) {
      entry.link_target = fs::read_symlink(it->path(), ec).string();
      entry.executable = false;
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

void MemoryFileSystem::AddDirectory(const std::string& path) {
  std::string p = spec::NormalizePath(path);
  while (p != "." && p != "/" && !p.empty()) {
    nodes_[p] = Node{Type::kDirectory, {}, false};
    auto slash = p.rfind('/');
    if (slash == std::string::npos) break;
    p = p.substr(0, slash);
  }
}

void MemoryFileSystem::AddFile(const std::string& path, std::string content, bool executable) {
  std::string p = spec::NormalizePath(path);
  auto slash = p.rfind('/');
  if (slash != std::string::npos) AddDirectory(p.substr(0, slash));
  nodes_[p] = Node{Type::kFile, std::move(content), executable};
}

void MemoryFileSystem::AddSymlink(const std::string& path, std::string target) {
  std::string p = spec::NormalizePath(path);
  auto slash = p.rfind('/');
  if (slash != std::string::npos) AddDirectory(p.substr(0, slash));
  nodes_[p] = Node{Type::kSymlink, std::move(target), false};
}

FileSystem::Type MemoryFileSystem::Stat(const std::string& path) {
  std::string p = spec::NormalizePath(path);
  if (p == "." || p == "/") return Type::kDirectory;
  auto it = nodes_.find(p);
  return it == nodes_.end() ? Type::kMissing : it->second.type;
}

core::Result<std::string> MemoryFileSystem::ReadFile(const std::string& path,
                                                     std::size_t max_bytes) {
  auto it = nodes_.find(spec::NormalizePath(path));
  if (it == nodes_.end()) return core::Error::NotFound("no such file or directory");
  if (it->second.type == Type::kDirectory) return core::Error::InvalidArgument("is a directory");
  if (it->second.type != Type::kFile) return core::Error::InvalidArgument("not a regular file");
  if (it->second.content.size() > max_bytes) {
    return core::Error::InvalidArgument(fmt::format("file is {} bytes; the limit is {} bytes",
                                                    it->second.content.size(), max_bytes));
  }
  return it->second.content;
}

core::Result<std::vector<FileSystem::Entry>> MemoryFileSystem::ListDirectory(
    const std::string& path) {
  std::string p = spec::NormalizePath(path);
  if (Stat(p) == Type::kMissing) return core::Error::NotFound("no such file or directory");
  if (Stat(p) != Type::kDirectory) return core::Error::InvalidArgument("not a directory");
  std::string prefix = (p == ".") ? "" : p + "/";
  std::vector<Entry> entries;
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    if (!it->first.starts_with(prefix)) break;
    std::string rest = it->first.substr(prefix.size());
    if (rest.empty() || rest.find('/') != std::string::npos) continue;
    Entry entry{rest, it->second.type, it->second.executable, {}};
    if (entry.type == Type::kSymlink) entry.link_target = it->second.content;
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace gantry::manifest
