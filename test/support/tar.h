#pragma once

#include <string>
#include <vector>

namespace gantry::testing {

struct TarEntry {
  std::string path;     // "Dockerfile", "bin/hello.sh"
  std::string content;
  int mode = 0644;
};

// Builds an uncompressed tar archive in memory (libarchive), e.g. a build context.
// Aborts the test program on a libarchive failure.
std::string MakeTar(const std::vector<TarEntry>& entries);

}  // namespace gantry::testing
