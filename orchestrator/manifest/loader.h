#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "manifest/file_system.h"
#include "manifest/yaml_tree.h"
#include "spec/function_spec.h"
#include "spec/secret_spec.h"

namespace gantry::manifest {

// One error in one file: "echo.yaml:12:5: spec.scale.max: must be ≥ spec.scale.min (2)".
// position.line is 0 for an error about the file as a whole; path is empty for an error
// about a document as a whole or a syntax error.
struct ManifestError {
  std::string file;
  Position position;
  std::string path;
  std::string message;

  // "file:line:column: path: message", leaving out what is unknown.
  std::string ToString() const;
  bool operator==(const ManifestError&) const = default;
};

// When a function names a secret the loaded files do not define, is that an error? The
// secret may already be on the server, so it is only knowable when the files are meant to
// hold every secret.
enum class SecretCheck {
  kNone,               // never
  kDefinedNamespaces,  // in namespaces where the files define at least one secret (default)
  kAll,                // always: the files define every secret their functions use
};

// The path that names standard input (kubectl's `-f -`), and the file name its errors carry.
inline constexpr std::string_view kStdinPath = "-";
inline constexpr std::string_view kStdinName = "<stdin>";

struct LoadOptions {
  // Descend into sub-directories of a directory argument (never into node_modules or
  // directories whose name starts with a dot, nor through symlinks).
  bool recursive = false;
  YamlLimits limits;
  SecretCheck secret_check = SecretCheck::kDefinedNamespaces;
  // The namespace of objects whose manifest names none (kubectl's -n); empty: "default".
  // A manifest naming another namespace is then an error at metadata.namespace.
  std::string default_namespace;
  // Reads standard input whole, for a path "-" (at most once per load); null: "-" is an
  // error. The CLI passes a reader of std::cin; tests pass the text.
  std::function<core::Result<std::string>()> read_stdin;
};

// One valid object and where it came from.
struct LoadedObject {
  std::variant<spec::FunctionSpec, spec::SecretSpec> object;
  std::string file;
  Position position;  // start of its document
};

// Everything loaded from one apply's worth of paths: valid objects in file and document
// order, and every error, sorted by file (in the order read), line and column. An object
// with errors is left out of `objects`; other objects of the same file are still there.
struct LoadResult {
  std::vector<LoadedObject> objects;
  std::vector<ManifestError> errors;
  std::vector<std::string> files;    // every manifest file read, in order ("<stdin>" too)
  std::vector<std::string> skipped;  // files found in directories that are not manifests

  bool ok() const { return errors.empty(); }
};

// Whether a file's name alone makes it a Gantry manifest when found in a directory:
// gantry.yaml, gantry.yml, gantry.json, and *.gantry.yaml / *.gantry.yml / *.gantry.json.
bool IsConventionalManifestName(std::string_view name);

// Whether `text` has an apiVersion key (YAML or JSON, quoted or not, block or flow) whose
// value starts with "gantry.dev/": the test that tells a Gantry manifest found in a
// directory from a function's own YAML or JSON. A textual scan, so a file with a syntax
// error is still recognised (and its errors reported).
bool MentionsGantryApiVersion(std::string_view text);

// Loads the manifests named by `paths`: "-" (standard input, through options.read_stdin;
// relative paths in it are relative to the current directory), a file, or a directory.
// A file named in `paths` is always read, and is an error when it is not a Gantry
// manifest. In a directory, the *.yaml, *.yml and *.json files that are Gantry manifests
// (IsConventionalManifestName, or MentionsGantryApiVersion of their content) are read in
// name order, sub-directories too with options.recursive; every other file is left alone
// and listed in `skipped` (a function's package.json, tsconfig.json, CI YAML), and a
// directory without any manifest is an error. Each file may hold several documents.
// `source` and secret `file` paths are resolved against the directory of the manifest that
// names them, and checked to exist. Names must be unique per kind and namespace across
// everything loaded. Never throws.
LoadResult LoadManifests(FileSystem& fs, const std::vector<std::string>& paths,
                         const LoadOptions& options);

// Like LoadManifests for one file whose content is already in memory (stdin, tests, the
// fuzzer): `file_name` is used in errors, `base_dir` to resolve relative paths.
LoadResult LoadManifestText(FileSystem& fs, std::string_view text, const std::string& file_name,
                            const std::string& base_dir, const LoadOptions& options);

}  // namespace gantry::manifest
