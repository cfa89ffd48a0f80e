#include "support/tar.h"

#include <cstdio>
#include <cstdlib>

#include "builder/build_context.h"

namespace gantry::testing {

// The builder's deterministic tar writer serves the tests too: only the executable bit
// of a mode matters there (0755 or 0644), which is all the tests use.
std::string MakeTar(const std::vector<TarEntry>& entries) {
  builder::BuildContext context;
  for (const TarEntry& e : entries) context.AddFile(e.path, e.content, (e.mode & 0111) != 0);
  auto tar = context.Tar();
  if (!tar) {
    std::fprintf(stderr, "MakeTar: %s\n", tar.error().ToString().c_str());
    std::abort();
  }
  return *tar;
}

}  // namespace gantry::testing
