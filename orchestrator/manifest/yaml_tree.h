#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::manifest {

// A place in a file, 1-based. line 0 means "the file as a whole".
struct Position {
  int line = 0;
  int column = 0;

  bool operator==(const Position&) const = default;
};

// YamlNode is one node of a parsed YAML document, with where it was written. Aliases are
// already resolved (an alias shares the anchored node, so its position is the anchor's) and
// merge keys ("<<: *base") already applied. Immutable once built; shared between aliases.
struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  struct Entry {
    std::shared_ptr<const YamlNode> key;
    std::shared_ptr<const YamlNode> value;
    bool merged = false;  // came in through "<<", not written in this mapping
  };

  Kind kind = Kind::kNull;
  std::string value;   // kScalar only
  bool plain = false;  // a plain (unquoted, untagged) scalar, which YAML may read as a number
  Position position;
  std::vector<std::shared_ptr<const YamlNode>> items;  // kSequence
  std::vector<Entry> entries;                          // kMapping, in written order
  std::size_t size = 1;                                // nodes in this subtree
  int height = 1;                                      // levels in this subtree
};

// Bounds that keep hostile or broken input from exhausting memory or the stack. yaml-cpp
// parses recursively; the tree builder stops it as soon as nesting passes max_depth.
struct YamlLimits {
  std::size_t max_bytes = 1 << 20;  // per file
  int max_depth = 64;               // nesting of mappings and sequences
  std::size_t max_nodes = 100'000;  // per file, an alias counting its whole subtree again
};

// A problem the parser found: a syntax error (yaml-cpp's message and position), a limit
// passed, or a misused merge key.
struct YamlError {
  Position position;
  std::string message;
  std::size_t document = 0;  // index of the document it was found in
};

struct YamlDocument {
  std::shared_ptr<const YamlNode> root;  // kNull for an empty document
  Position start;
};

// The documents of one YAML stream, in order. A syntax error or a passed limit ends the
// stream: the documents before it are kept, `errors` ends with it. A misused merge key is
// reported in `errors` and parsing goes on.
struct YamlParse {
  std::vector<YamlDocument> documents;
  std::vector<YamlError> errors;
};

// Parses `text` (all documents separated by "---"). Never throws; never recurses deeper
// than about limits.max_depth frames.
YamlParse ParseYaml(std::string_view text, const YamlLimits& limits);

// "a mapping", "a list", "a string", "null" — for "expected X, got Y" messages.
std::string_view DescribeKind(const YamlNode& node);

}  // namespace gantry::manifest
