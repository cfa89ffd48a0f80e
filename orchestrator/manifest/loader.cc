#include "manifest/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "manifest/decode.h"
#include "spec/suggest.h"
#include "spec/validate.h"

namespace gantry::manifest {

std::string ManifestError::ToString() const {
  std::string out = file;
  if (position.line > 0) out += fmt::format(":{}:{}", position.line, position.column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

namespace {

constexpr int kMaxDirectoryDepth = 32;

bool IsManifestName(std::string_view name) {
  return name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json");
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Directories a recursive read never enters: a package's installed dependencies and
// hidden directories (.git, .venv) hold other tools' YAML and JSON, never a manifest.
bool IsSkippedDirectory(std::string_view name) {
  return name == "node_modules" || name.starts_with('.');
}

}  // namespace

bool IsConventionalManifestName(std::string_view name) {
  return name == "gantry.yaml" || name == "gantry.yml" || name == "gantry.json" ||
         name.ends_with(".gantry.yaml") || name.ends_with(".gantry.yml") ||
         name.ends_with(".gantry.json");
}

bool MentionsGantryApiVersion(std::string_view text) {
  constexpr std::string_view kKey = "apiVersion";
  constexpr std::string_view kGroup = "gantry.dev/";
  for (std::size_t at = text.find(kKey); at != std::string_view::npos;
       at = text.find(kKey, at + 1)) {
    // The key starts a line, a flow mapping entry or a quoted key.
    char before = at == 0 ? '\n' : text[at - 1];
    if (!(IsSpace(before) || before == '{' || before == ',' || before == '"' || before == '\''))
      continue;
    std::size_t i = at + kKey.size();
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
    if (text.substr(i, kGroup.size()) == kGroup) return true;
  }
  return false;
}

namespace {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.ends_with('/')) return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& file) {
  auto slash = file.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return file.substr(0, slash);
}

bool IsUnder(const std::string& path, const std::vector<std::string>& failed) {
  for (const std::string& f : failed) {
    if (f.empty() || path == f) return true;
    if (path.size() > f.size() && path.starts_with(f) &&
        (path[f.size()] == '.' || path[f.size()] == '[')) {
      return true;
    }
  }
  return false;
}

// One object of the batch, valid or not, kept until the checks that need them all.
struct Record {
  std::size_t file_index = 0;
  std::string file;
  Position start;
  bool is_function = true;
  std::optional<std::string> name;
  std::string namespace_name;
  std::vector<std::string> secret_refs;  // functions, as written
  PathIndex index;
  std::vector<std::string> failed_paths;
  std::optional<std::variant<spec::FunctionSpec, spec::SecretSpec>> object;  // when valid
};

// Batch is one command's worth of manifests: it reads files, parses, decodes and validates
// each document as it comes, keeps a Record per object, and at Finish() runs the checks
// that need all of them (duplicate names, undefined secrets) and sorts the errors. Used
// once, by one thread.
class Batch {
 public:
  Batch(FileSystem& fs, const LoadOptions& options) : fs_(fs), options_(options) {}

  void AddPath(const std::string& path) {
    if (path == kStdinPath) return AddStdin();
    FileSystem::Type type = fs_.Stat(path);
    if (type == FileSystem::Type::kMissing) {
      FileError(path, "no such file or directory");
    } else if (type == FileSystem::Type::kDirectory) {
      std::size_t before = result_.files.size();
      std::size_t skipped_before = result_.skipped.size();
      bool skipped_dirs = false;
      AddDirectory(path, 0, skipped_dirs);
      if (result_.files.size() == before) {
        std::string message =
            "no Gantry manifests (.yaml, .yml or .json files with apiVersion: gantry.dev/...)";
        if (result_.skipped.size() > skipped_before) {
          message +=
              fmt::format("; {} other file{} skipped", result_.skipped.size() - skipped_before,
                          result_.skipped.size() - skipped_before == 1 ? "" : "s");
        }
        if (skipped_dirs) message += " (use -R to read sub-directories)";
        FileError(path, std::move(message));
      }
    } else {
      AddFile(path);
    }
  }

  void AddStdin() {
    if (read_stdin_) {
      FileError(std::string(kStdinName), "standard input named more than once");
      return;
    }
    read_stdin_ = true;
    if (!options_.read_stdin) {
      FileError(std::string(kStdinName), "standard input cannot be read here");
      return;
    }
    auto text = options_.read_stdin();
    if (!text) {
      FileError(std::string(kStdinName), text.error().message());
      return;
    }
    if (text->size() > options_.limits.max_bytes) {
      FileError(std::string(kStdinName),
                fmt::format("more than {} bytes; the limit is {} bytes", options_.limits.max_bytes,
                            options_.limits.max_bytes));
      return;
    }
    // Like kubectl: paths in it are relative to the current directory.
    AddText(*text, std::string(kStdinName), "");
  }

  void AddText(std::string_view text, const std::string& file, const std::string& base_dir) {
    std::size_t file_index = result_.files.size();
    result_.files.push_back(file);
    YamlParse parse = ParseYaml(text, options_.limits);
    for (std::size_t doc_index = 0; doc_index < parse.documents.size(); ++doc_index) {
      const YamlDocument& doc = parse.documents[doc_index];
      if (doc.root->kind == YamlNode::Kind::kNull) continue;  // "---" with nothing after it
      DecodedDocument decoded = DecodeDocument(doc, base_dir);
      Record record;
      record.file_index = file_index;
      record.file = file;
      record.start = doc.root->position;
      for (const DocumentError& e : decoded.errors)
        Add(file_index, file, e.position, e.path, e.message);
      record.failed_paths = std::move(decoded.failed_paths);
      record.index = std::move(decoded.index);
      if (auto* fm = std::get_if<spec::FunctionManifest>(&decoded.manifest)) {
        AddFunction(*fm, record);
      } else if (auto* sm = std::get_if<spec::SecretManifest>(&decoded.manifest)) {
        AddSecret(*sm, record);
      } else {
        continue;
      }
      // Validation may pass a document whose shape was wrong (an unknown field, say); it is
      // still not a valid object.
      bool yaml_error = std::any_of(parse.errors.begin(), parse.errors.end(),
                                    [&](const YamlError& e) { return e.document == doc_index; });
      if (!decoded.errors.empty() || yaml_error) record.object.reset();
      records_.push_back(std::move(record));
    }
    for (const YamlError& e : parse.errors) Add(file_index, file, e.position, "", e.message);
  }

  LoadResult Finish() {
    CheckDuplicates();
    CheckSecretReferences();
    for (Record& r : records_) {
      if (r.object) result_.objects.push_back({std::move(*r.object), r.file, r.start});
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      if (a.second.position.line != b.second.position.line) {
        return a.second.position.line < b.second.position.line;
      }
      return a.second.position.column < b.second.position.column;
    });
    for (auto& [file_index, error] : errors_) result_.errors.push_back(std::move(error));
    return std::move(result_);
  }

 private:
  void Add(std::size_t file_index, const std::string& file, Position at, std::string path,
           std::string message) {
    errors_.emplace_back(file_index, ManifestError{file, at, std::move(path), std::move(message)});
  }

  void FileError(const std::string& path, std::string message) {
    Add(result_.files.size(), path, {}, "", std::move(message));
  }

  // Reports a validation error unless a shape error already covers its path.
  void AddFieldError(Record& record, const std::string& path, std::string message,
                     bool about_key = false) {
    if (IsUnder(path, record.failed_paths)) return;
    Position at = about_key ? record.index.LocateKey(path) : record.index.Locate(path);
    Add(record.file_index, record.file, at, path, std::move(message));
    record.failed_paths.push_back(path);
  }

  void AddFile(const std::string& path) {
    auto text = fs_.ReadFile(path, options_.limits.max_bytes);
    if (!text) {
      FileError(path, text.error().message());
      return;
    }
    AddText(*text, path, DirName(path));
  }

  // A file found in a directory: read when it is a Gantry manifest by name or by content;
  // anything else (a function's package.json, a CI config, a huge lock file) is skipped.
  void AddFoundFile(const std::string& path, const std::string& name) {
    if (IsConventionalManifestName(name)) return AddFile(path);
    auto text = fs_.ReadFile(path, options_.limits.max_bytes);
    if (!text || !MentionsGantryApiVersion(*text)) {
      // Too big or unreadable: not a manifest either (one is never a megabyte), and not
      // this command's business.
      result_.skipped.push_back(path);
      return;
    }
    AddText(*text, path, DirName(path));
  }

  void AddDirectory(const std::string& dir, int depth, bool& skipped_dirs) {
    auto entries = fs_.ListDirectory(dir);
    if (!entries) {
      FileError(dir, entries.error().message());
      return;
    }
    for (const FileSystem::Entry& e : *entries) {
      std::string path = JoinPath(dir, e.name);
      FileSystem::Type type = e.type == FileSystem::Type::kSymlink ? fs_.Stat(path) : e.type;
      if (type == FileSystem::Type::kFile && IsManifestName(e.name)) {
        AddFoundFile(path, e.name);
      } else if (type == FileSystem::Type::kDirectory && e.type == FileSystem::Type::kDirectory &&
                 !IsSkippedDirectory(e.name)) {
        // Linked directories are not followed: a link back up would never end.
        if (!options_.recursive) {
          skipped_dirs = true;
        } else if (depth >= kMaxDirectoryDepth) {
          FileError(path, fmt::format("directories nested more than {} deep", kMaxDirectoryDepth));
        } else {
          AddDirectory(path, depth + 1, skipped_dirs);
        }
      }
    }
  }

  // Applies options_.default_namespace to a manifest without one; false (with the error
  // recorded) when the manifest names a different namespace.
  template <typename Manifest>
  bool WithNamespace(Manifest& m, Record& record) {
    if (options_.default_namespace.empty()) return true;
    if (!m.namespace_name) {
      m.namespace_name = options_.default_namespace;
      return true;
    }
    if (*m.namespace_name == options_.default_namespace) return true;
    AddFieldError(record, "metadata.namespace",
                  fmt::format("is \"{}\", but -n asks for \"{}\"", *m.namespace_name,
                              options_.default_namespace),
                  false);
    return false;
  }

  void AddFunction(spec::FunctionManifest m, Record& record) {
    record.is_function = true;
    record.name = m.name;
    if (!WithNamespace(m, record)) return;
    record.namespace_name = m.namespace_name.value_or(std::string(spec::kDefaultNamespace));
    record.secret_refs = m.secrets;
    std::vector<spec::FieldError> field_errors;
    auto spec = spec::ValidateFunction(m, field_errors);
    for (spec::FieldError& e : field_errors) {
      AddFieldError(record, e.path, std::move(e.message), e.about_key);
    }
    bool files_ok = CheckSourceFiles(m, record);
    if (spec && files_ok) record.object = std::move(*spec);
  }

  // What a relative path in `record` is relative to, for errors.
  static std::string_view RelativeTo(const Record& record) {
    return record.file == kStdinName
               ? "the current directory, as the manifest came on standard input"
               : "the manifest file";
  }

  // Whether the source directory (and a dockerfile runtime's Dockerfile) exist; knowable
  // only here, where the manifest's own directory is known.
  bool CheckSourceFiles(const spec::FunctionManifest& m, Record& record) {
    // Compared by name: an optional<Runtime> here trips g++ 12's maybe-uninitialized.
    const std::string runtime = m.runtime.value_or("");
    if (!m.source || m.source->empty() || !spec::ParseRuntime(runtime).has_value() ||
        runtime == spec::RuntimeName(spec::Runtime::kImage) ||
        IsUnder("spec.source", record.failed_paths)) {
      return true;
    }
    const bool is_dockerfile = runtime == spec::RuntimeName(spec::Runtime::kDockerfile);
    std::string dir = spec::ResolvePath(m.base_dir, *m.source);
    FileSystem::Type type = fs_.Stat(dir);
    if (type == FileSystem::Type::kMissing) {
      AddFieldError(record, "spec.source",
                    fmt::format("directory \"{}\" not found (relative to {})", *m.source,
                                RelativeTo(record)));
      return false;
    }
    if (type != FileSystem::Type::kDirectory) {
      AddFieldError(record, "spec.source", fmt::format("\"{}\" is not a directory", *m.source));
      return false;
    }
    if (is_dockerfile && !IsUnder("spec.dockerfile", record.failed_paths)) {
      std::string dockerfile = m.dockerfile.value_or(std::string(spec::kDefaultDockerfile));
      if (fs_.Stat(spec::ResolvePath(dir, dockerfile)) != FileSystem::Type::kFile) {
        AddFieldError(
            record, m.dockerfile ? "spec.dockerfile" : "spec.source",
            fmt::format("no file \"{}\" in source directory \"{}\"", dockerfile, *m.source));
        return false;
      }
    }
    return true;
  }

  void AddSecret(spec::SecretManifest m, Record& record) {
    record.is_function = false;
    record.name = m.name;
    if (!WithNamespace(m, record)) return;
    record.namespace_name = m.namespace_name.value_or(std::string(spec::kDefaultNamespace));
    std::vector<spec::FieldError> field_errors;
    auto secret = spec::ValidateSecret(m, field_errors);
    for (spec::FieldError& e : field_errors) AddFieldError(record, e.path, std::move(e.message));
    bool file_ok = true;
    if (m.file && !m.file->empty() && !IsUnder("spec.file", record.failed_paths)) {
      FileSystem::Type type = fs_.Stat(spec::ResolvePath(m.base_dir, *m.file));
      if (type == FileSystem::Type::kMissing) {
        AddFieldError(
            record, "spec.file",
            fmt::format("file \"{}\" not found (relative to {})", *m.file, RelativeTo(record)));
        file_ok = false;
      } else if (type != FileSystem::Type::kFile) {
        AddFieldError(record, "spec.file", fmt::format("\"{}\" is not a regular file", *m.file));
        file_ok = false;
      }
    }
    if (secret && file_ok) record.object = std::move(*secret);
  }

  void CheckDuplicates() {
    std::map<std::string, const Record*> seen;
    for (Record& r : records_) {
      if (!r.name || IsUnder("metadata.name", r.failed_paths)) continue;
      std::string key =
          fmt::format("{}/{}/{}", r.is_function ? 'f' : 's', r.namespace_name, *r.name);
      auto [it, inserted] = seen.emplace(key, &r);
      if (inserted) continue;
      const Record& first = *it->second;
      Position at = first.index.Locate("metadata.name");
      AddFieldError(r, "metadata.name",
                    fmt::format("{} \"{}/{}\" is already defined at {}:{}:{}",
                                r.is_function ? "function" : "secret", r.namespace_name, *r.name,
                                first.file, at.line, at.column));
      r.object.reset();
    }
  }

  void CheckSecretReferences() {
    if (options_.secret_check == SecretCheck::kNone) return;
    std::map<std::string, std::vector<std::string>> defined;  // namespace -> names
    for (const Record& r : records_) {
      if (!r.is_function && r.name) defined[r.namespace_name].push_back(*r.name);
    }
    for (Record& r : records_) {
      if (!r.is_function) continue;
      auto ns = defined.find(r.namespace_name);
      if (ns == defined.end() && options_.secret_check == SecretCheck::kDefinedNamespaces) continue;
      std::vector<std::string_view> names;
      if (ns != defined.end()) names.assign(ns->second.begin(), ns->second.end());
      for (std::size_t i = 0; i < r.secret_refs.size(); ++i) {
        const std::string& ref = r.secret_refs[i];
        if (std::find(names.begin(), names.end(), ref) != names.end()) continue;
        std::string path = fmt::format("spec.secrets[{}]", i);
        if (IsUnder(path, r.failed_paths)) continue;
        std::string message =
            fmt::format("secret \"{}\" is not defined in namespace \"{}\"", ref, r.namespace_name);
        if (auto near = spec::Suggest(ref, names))
          message += fmt::format(" (did you mean \"{}\"?)", *near);
        AddFieldError(r, path, std::move(message));
        r.object.reset();
      }
    }
  }

  FileSystem& fs_;
  const LoadOptions& options_;
  bool read_stdin_ = false;
  LoadResult result_;
  std::vector<Record> records_;
  std::vector<std::pair<std::size_t, ManifestError>> errors_;
};

}  // namespace

LoadResult LoadManifests(FileSystem& fs, const std::vector<std::string>& paths,
                         const LoadOptions& options) {
  Batch batch(fs, options);
  for (const std::string& path : paths) batch.AddPath(path);
  return batch.Finish();
}

LoadResult LoadManifestText(FileSystem& fs, std::string_view text, const std::string& file_name,
                            const std::string& base_dir, const LoadOptions& options) {
  Batch batch(fs, options);
  batch.AddText(text, file_name, base_dir);
  return batch.Finish();
}

}  // namespace gantry::manifest
