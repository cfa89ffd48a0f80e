#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "manifest/yaml_tree.h"
#include "spec/function_manifest.h"

namespace gantry::manifest {

// A problem at a place in a document, before the file name is known.
struct DocumentError {
  Position position;
  std::string path;  // "spec.scale.max"; empty for the document as a whole
  std::string message;
};

// Where each field of a document was written, by field path, so that an error about a
// path found later (by spec validation) can be pointed at the right line and column.
class PathIndex {
 public:
  // Records `path`: its key at `key`, its value at `value` (`value_is_null` when empty).
  void Add(const std::string& path, Position key, Position value, bool value_is_null);
  void SetDocument(Position start) { document_ = start; }

  // Where to report an error about `path`: its value when the path was written (its key
  // when the value is empty); for a path that was not written, the key of its nearest
  // written parent ("spec" for a missing "spec.handler"); else the document's start.
  Position Locate(const std::string& path) const;
  // Where the key of `path` was written; Locate(path) when it was not.
  Position LocateKey(const std::string& path) const;

 private:
  struct Place {
    Position key;
    Position value;
    bool value_is_null = false;
  };
  std::map<std::string, Place> places_;
  Position document_;
};

// One decoded document: a function or a secret manifest (or neither, when apiVersion or
// kind is unusable), the errors of shape found on the way, and where every field was.
struct DecodedDocument {
  std::variant<std::monostate, spec::FunctionManifest, spec::SecretManifest> manifest;
  std::vector<DocumentError> errors;
  // Paths that had an error here; spec validation errors at or below them are redundant.
  std::vector<std::string> failed_paths;
  PathIndex index;
};

// Checks the shape of one document — known fields only ("did you mean" for near misses),
// no duplicate keys, the right YAML type for each field — and copies the values into a
// FunctionManifest or SecretManifest whose base_dir is `base_dir`. Never throws.
DecodedDocument DecodeDocument(const YamlDocument& document, const std::string& base_dir);

}  // namespace gantry::manifest
