#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace gantry::manifest {

// FileSystem is the narrow view of files the manifest loader needs: what a path is, a
// file's bytes, a directory's entries. LocalFileSystem reads the real disk; MemoryFileSystem
// is its in-memory twin for tests and the fuzzer. Implementations are not required to be
// thread-safe.
class FileSystem {
 public:
  enum class Type { kMissing, kFile, kDirectory, kSymlink, kOther };

  struct Entry {
    std::string name;         // the last component only
    Type type = Type::kFile;  // kSymlink for a link, whatever it points at
    bool executable = false;
    std::string link_target;  // kSymlink only
  };

  virtual ~FileSystem() = default;

  // What `path` is, following symlinks: kMissing when nothing is there.
  virtual Type Stat(const std::string& path) = 0;

  // The whole content of the regular file `path`. NotFound when it does not exist,
  // InvalidArgument when it is larger than `max_bytes` or not a regular file, Unavailable
  // on a read error.
  virtual core::Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes) = 0;

  // The entries of directory `path`, sorted by name, not following symlinks; "." and ".."
  // left out. NotFound when it does not exist, InvalidArgument when it is not a directory.
  virtual core::Result<std::vector<Entry>> ListDirectory(const std::string& path) = 0;
};

// The real filesystem, through std::filesystem. Relative paths are relative to the
// process's working directory.
class LocalFileSystem : public FileSystem {
 public:
  Type Stat(const std::string& path) override;
  core::Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes) override;
  core::Result<std::vector<Entry>> ListDirectory(const std::string& path) override;
};

// An in-memory tree. Paths are normalised lexically ("./a/../b" is "b"); parent directories
// are created on demand. Symlinks are recorded but not followed.
class MemoryFileSystem : public FileSystem {
 public:
  void AddFile(const std::string& path, std::string content, bool executable = false);
  void AddDirectory(const std::string& path);
  void AddSymlink(const std::string& path, std::string target);

  Type Stat(const std::string& path) override;
  core::Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes) override;
  core::Result<std::vector<Entry>> ListDirectory(const std::string& path) override;

 private:
  struct Node {
    Type type = Type::kFile;
    std::string content;  // file bytes or link target
    bool executable = false;
  };
  std::map<std::string, Node> nodes_;  // by normalised path
};

}  // namespace gantry::manifest
