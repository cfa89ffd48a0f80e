#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "builder/ignore_rules.h"
#include "core/result.h"

namespace gantry::builder {

// One entry of a build context.
struct ContextEntry {
  enum class Type { kFile, kDirectory, kSymlink };
  std::string path;  // relative, "/"-separated
  Type type = Type::kFile;
  bool executable = false;
  std::string content;  // file bytes, or a symlink's target
};

struct ContextLimits {
  std::size_t max_entries = 20'000;
  std::size_t max_bytes = std::size_t{512} << 20;
};

// A Docker build context assembled in memory, written as a tar stream whose bytes depend
// only on the entries: sorted by path, mtime 0, owner root (0:0), mode 0644 or 0755 for
// files and 0755 for directories. The same tree always gives the same bytes, so a hash of
// them names the image. Not thread-safe.
class BuildContext {
 public:
  // Adds `dir`'s contents under `prefix` ("" for the root, else "function"), leaving out
  // what `ignore` excludes; symlinks are kept as links (never followed), other special
  // files skipped. kNotFound when `dir` is missing; kInvalidArgument past a limit, or for
  // a symlink whose target is absolute or climbs out of `dir` (the message names it).
  core::Status AddDirectory(const std::string& dir, std::string_view prefix,
                            const IgnoreRules& ignore);
  // Adds a generated file; replaces an entry of the same path.
  void AddFile(std::string path, std::string content, bool executable = false);
  // Adds an (empty) directory entry.
  void AddDirectoryEntry(std::string path);
  // Adds the file at host path `source` as `path`. kNotFound when it can't be read.
  core::Status AddHostFile(const std::string& source, std::string path, bool executable);

  bool Contains(std::string_view path) const;
  // The entry at `path`, or nullptr. Valid until the context is next changed.
  const ContextEntry* Find(std::string_view path) const;
  std::size_t size() const { return entries_.size(); }

  // The tar stream (parent directories included). kInternal on a libarchive failure.
  core::Result<std::string> Tar(const ContextLimits& limits = {}) const;

 private:
  std::vector<ContextEntry> entries_;
  std::size_t bytes_ = 0;
};

// Whether a symlink at `rel` (a path relative to a tree's root) pointing at `target`
// resolves inside that tree, judged on the names alone: nothing is followed. An absolute
// target names something on whatever machine reads the link, so it never qualifies.
bool LinkStaysInside(std::string_view rel, std::string_view target);

// Reads `<dir>/.dockerignore` then `<dir>/.gantryignore` (later rules win); both optional.
IgnoreRules ReadIgnoreFiles(const std::string& dir);

}  // namespace gantry::builder
