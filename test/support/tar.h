#pragma once

#include <string>
#include <vector>

namespace gantry::testing {

struct TarEntry {
  std::string path;  // "Dockerfile", "bin/hello.sh"
  std::string content;
  int mode = 0644;  // 0755 (executable) or 0644
};

// Builds an uncompressed tar archive in memory, e.g. a build context (builder::BuildContext:
// sorted, parent directories included). Aborts the test program on a failure.
std::string MakeTar(const std::vector<TarEntry>& entries);

}  // namespace gantry::testing
