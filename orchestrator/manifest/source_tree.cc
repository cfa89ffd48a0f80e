#include "manifest/source_tree.h"

#include <fmt/format.h>

#include "spec/sha256.h"

namespace gantry::manifest {
namespace {

core::Status Walk(FileSystem& fs, const std::string& dir, const std::string& relative, int depth,
                  const SourceTreeLimits& limits, spec::SourceTree& tree) {
  if (depth > limits.max_depth) {
    return core::Error::InvalidArgument(
        fmt::format("{}: nested more than {} deep", dir, limits.max_depth));
  }
  auto entries = fs.ListDirectory(dir);
  if (!entries) return entries.error().WithContext(dir);
  for (const FileSystem::Entry& e : *entries) {
    if (tree.entries.size() >= limits.max_entries) {
      return core::Error::InvalidArgument(fmt::format("more than {} files", limits.max_entries));
    }
    std::string path = dir + "/" + e.name;
    std::string rel = relative.empty() ? e.name : relative + "/" + e.name;
    spec::SourceEntry entry;
    entry.path = rel;
    switch (e.type) {
      case FileSystem::Type::kFile: {
        auto content = fs.ReadFile(path, limits.max_file_bytes);
        if (!content) return content.error().WithContext(path);
        entry.type = spec::SourceEntry::Type::kFile;
        entry.executable = e.executable;
        entry.digest = spec::Sha256::HexDigest(*content);
        tree.entries.push_back(std::move(entry));
        break;
      }
      case FileSystem::Type::kDirectory: {
        entry.type = spec::SourceEntry::Type::kDirectory;
        tree.entries.push_back(std::move(entry));
        if (auto s = Walk(fs, path, rel, depth + 1, limits, tree); !s) return s;
        break;
      }
      case FileSystem::Type::kSymlink:
        entry.type = spec::SourceEntry::Type::kSymlink;
        entry.digest = spec::Sha256::HexDigest(e.link_target);
        tree.entries.push_back(std::move(entry));
        break;
      default:
        // Sockets, fifos and devices cannot go into a build context; leave them out.
        break;
    }
  }
  return core::Ok();
}

}  // namespace

core::Result<spec::SourceTree> ReadSourceTree(FileSystem& fs, const std::string& dir,
                                              const SourceTreeLimits& limits) {
  spec::SourceTree tree;
  if (auto s = Walk(fs, dir, "", 0, limits, tree); !s) return s.error();
  return tree;
}

core::Result<std::string> HashFunction(FileSystem& fs, const spec::FunctionSpec& spec) {
  spec::SourceTree tree;
  if (!spec.source_path().empty()) {
    auto read = ReadSourceTree(fs, spec.source_path());
    if (!read) return read.error().WithContext("source " + spec.source());
    tree = std::move(*read);
  }
  return spec::ContentHash(spec, tree);
}

}  // namespace gantry::manifest
