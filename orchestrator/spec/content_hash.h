#pragma once

#include <string>
#include <vector>

#include "spec/function_spec.h"

namespace gantry::spec {

// One entry of a function's source tree. `path` is relative to the source directory with
// '/' separators; `digest` is the hex SHA-256 of a file's bytes or of a symlink's target,
// empty for a directory.
struct SourceEntry {
  enum class Type { kFile, kDirectory, kSymlink };
  std::string path;
  Type type = Type::kFile;
  bool executable = false;
  std::string digest;
};

// The content of a source directory, in any order (ContentHash sorts it).
struct SourceTree {
  std::vector<SourceEntry> entries;
};

// "sha256:<64 hex>" over the spec's canonical JSON and the source tree (paths, types,
// executable bits, content digests). Equal specs with equal trees give equal hashes, on any
// machine; a change to any field value or any source byte changes it. Apply compares it to
// answer "unchanged".
std::string ContentHash(const FunctionSpec& spec, const SourceTree& tree);

}  // namespace gantry::spec
