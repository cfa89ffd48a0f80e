#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"
#include "manifest/file_system.h"
#include "spec/content_hash.h"
#include "spec/function_spec.h"

namespace gantry::manifest {

struct SourceTreeLimits {
  std::size_t max_entries = 20'000;
  std::size_t max_file_bytes = std::size_t{256} << 20;
  int max_depth = 64;
};

// Reads the directory `dir` into a SourceTree: every file (content digest, executable bit),
// directory and symlink (target digest; links are not followed) below it. InvalidArgument
// when a limit is passed; the FileSystem's error when something cannot be read.
core::Result<spec::SourceTree> ReadSourceTree(FileSystem& fs, const std::string& dir,
                                              const SourceTreeLimits& limits = {});

// spec::ContentHash of `spec` and its source directory (an empty tree when it has none).
core::Result<std::string> HashFunction(FileSystem& fs, const spec::FunctionSpec& spec);

}  // namespace gantry::manifest
