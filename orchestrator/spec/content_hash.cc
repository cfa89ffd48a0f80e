#include "spec/content_hash.h"

#include <algorithm>

#include "spec/sha256.h"

namespace gantry::spec {

std::string ContentHash(const FunctionSpec& spec, const SourceTree& tree) {
  std::vector<const SourceEntry*> sorted;
  sorted.reserve(tree.entries.size());
  for (const SourceEntry& e : tree.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const SourceEntry* a, const SourceEntry* b) { return a->path < b->path; });

  Sha256 hasher;
  // A version tag first so that a future change of this layout cannot collide with it.
  hasher.Update("gantry-content-v1\n");
  hasher.Update(CanonicalString(spec));
  hasher.Update("\n");
  for (const SourceEntry* e : sorted) {
    // Length-prefixed path: names may hold any byte but '/' and NUL, newlines included.
    char type = e->type == SourceEntry::Type::kFile        ? 'f'
                : e->type == SourceEntry::Type::kDirectory ? 'd'
                                                           : 'l';
    hasher.Update(std::string(1, type));
    hasher.Update(e->executable ? "x " : "- ");
    hasher.Update(std::to_string(e->path.size()));
    hasher.Update(":");
    hasher.Update(e->path);
    hasher.Update(" ");
    hasher.Update(e->digest);
    hasher.Update("\n");
  }
  return "sha256:" + Sha256::ToHex(hasher.Finish());
}

}  // namespace gantry::spec
