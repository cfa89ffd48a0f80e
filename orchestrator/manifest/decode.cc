#include "manifest/decode.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <span>

#include "spec/suggest.h"

namespace gantry::manifest {

void PathIndex::Add(const std::string& path, Position key, Position value, bool value_is_null) {
  places_.emplace(path, Place{key, value, value_is_null});
}

Position PathIndex::Locate(const std::string& path) const {
  if (auto it = places_.find(path); it != places_.end()) {
    return it->second.value_is_null ? it->second.key : it->second.value;
  }
  std::string parent = path;
  while (!parent.empty()) {
    auto cut = parent.find_last_of(".[");
    parent = cut == std::string::npos ? std::string() : parent.substr(0, cut);
    if (auto it = places_.find(parent); it != places_.end()) return it->second.key;
  }
  return document_;
}

Position PathIndex::LocateKey(const std::string& path) const {
  auto it = places_.find(path);
  return it != places_.end() ? it->second.key : Locate(path);
}

namespace {

using Kind = YamlNode::Kind;
using Fields = std::span<const std::string_view>;

constexpr std::array<std::string_view, 4> kTopFields{"apiVersion", "kind", "metadata", "spec"};
constexpr std::array<std::string_view, 4> kMetadataFields{"name", "namespace", "labels",
                                                          "annotations"};
constexpr std::array<std::string_view, 17> kFunctionFields{
    "runtime",    "handler",   "command",  "source",
    "dockerfile", "image",     "port",     "env",
    "secrets",    "resources", "timeout",  "concurrency",
    "scale",      "network",   "protocol", "readOnlyRootFilesystem",
    "triggers"};
constexpr std::array<std::string_view, 2> kResourceFields{"memory", "cpu"};
constexpr std::array<std::string_view, 5> kScaleFields{"min", "max", "idleTimeout", "pauseAfter",
                                                       "keepAlive"};
constexpr std::array<std::string_view, 6> kTriggerFields{"cron", "timezone", "missed",
                                                         "body", "headers",  "topic"};
constexpr std::array<std::string_view, 3> kSecretFields{"value", "file", "fromEnv"};
constexpr std::array<std::string_view, 2> kKinds{"Function", "Secret"};

bool IsBoolWord(std::string_view s) {
  static constexpr std::array<std::string_view, 6> kWords{"true",  "false", "True",
                                                          "False", "TRUE",  "FALSE"};
  for (std::string_view w : kWords) {
    if (s == w) return true;
  }
  return false;
}

std::string Join(Fields fields) {
  std::string out;
  for (std::string_view f : fields) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

// A field found in a mapping: its key node and value node.
struct Field {
  const YamlNode* key = nullptr;
  const YamlNode* value = nullptr;
  std::string path;
};

// Decoder walks one document's tree against the known fields, recording where each field
// was written and reporting every shape error into a DecodedDocument. One per document;
// not thread-safe.
class Decoder {
 public:
  explicit Decoder(DecodedDocument& out) : out_(out) {}

  void Error(Position at, const std::string& path, std::string message) {
    out_.errors.push_back({at, path, std::move(message)});
    out_.failed_paths.push_back(path);
  }

  // A key that is a list or mapping is skipped; the rest of its mapping is still checked, so
  // its path is not marked as failed.
  void NonStringKey(const YamlNode& key, const std::string& path) {
    out_.errors.push_back(
        {key.position, path, fmt::format("keys must be strings, got {}", DescribeKind(key))});
  }

  // A repeated key: the first one is what is used, and still gets checked.
  void DuplicateKey(const YamlNode& key, const std::string& path, Position first) {
    out_.errors.push_back(
        {key.position, path,
         fmt::format("duplicate key \"{}\" (first at line {})", key.value, first.line)});
  }

  // "expected X, got Y" at the value (or at the key when the value is empty).
  void TypeError(const Field& f, std::string_view expected, std::string_view hint = {}) {
    std::string got(DescribeKind(*f.value));
    if (f.value->kind == Kind::kScalar && f.value->plain && IsBoolWord(f.value->value)) {
      got = "a boolean";
    } else if (f.value->kind == Kind::kScalar && !f.value->plain) {
      got = fmt::format("the string \"{}\"", f.value->value);
    } else if (f.value->kind == Kind::kScalar) {
      got = fmt::format("\"{}\"", f.value->value);
    }
    Error(At(f), f.path, fmt::format("expected {}, got {}{}", expected, got, hint));
  }

  static Position At(const Field& f) {
    return f.value->kind == Kind::kNull ? f.key->position : f.value->position;
  }

  // The fields of mapping `node` at `path` that are in `known`, each once. Reports unknown
  // fields (with a suggestion), duplicate keys and non-string keys.
  std::map<std::string, Field, std::less<>> Fields(const YamlNode& node, const std::string& path,
                                                   gantry::manifest::Fields known) {
    std::map<std::string, Field, std::less<>> fields;
    std::vector<std::string> suggested;
    for (const YamlNode::Entry& e : node.entries) {
      if (e.key->kind != Kind::kScalar) {
        NonStringKey(*e.key, path);
        continue;
      }
      const std::string& name = e.key->value;
      std::string field_path = path.empty() ? name : path + "." + name;
      bool is_known = false;
      for (std::string_view k : known) is_known = is_known || k == name;
      if (!is_known) {
        if (auto near = spec::Suggest(name, known)) {
          Error(e.key->position, field_path,
                fmt::format("unknown field \"{}\" (did you mean \"{}\"?)", name, *near));
          suggested.push_back(*near);
        } else {
          Error(e.key->position, field_path,
                fmt::format("unknown field \"{}\" (known fields: {})", name, Join(known)));
        }
        continue;
      }
      auto [it, inserted] = fields.try_emplace(name, Field{e.key.get(), e.value.get(), field_path});
      if (!inserted) {
        if (!e.merged) DuplicateKey(*e.key, field_path, it->second.key->position);
        continue;
      }
      Record(it->second);
    }
    // A misspelt field that is not also written correctly is the one meant: don't call it
    // missing as well.
    for (const std::string& name : suggested) {
      if (!fields.contains(name))
        out_.failed_paths.push_back(path.empty() ? name : path + "." + name);
    }
    return fields;
  }

  void Record(const Field& f) {
    out_.index.Add(f.path, f.key->position, f.value->position, f.value->kind == Kind::kNull);
  }

  bool ExpectMapping(const Field& f) {
    if (f.value->kind == Kind::kMapping) return true;
    TypeError(f, "a mapping");
    return false;
  }

  // A string field: any scalar but a bare boolean (which YAML reads as true/false, not
  // text). Numbers are taken as written ("0.5", "8080").
  std::optional<std::string> String(const Field& f, std::string_view hint = {}) {
    if (f.value->kind != Kind::kScalar || (f.value->plain && IsBoolWord(f.value->value))) {
      TypeError(f, "a string", hint);
      return std::nullopt;
    }
    return f.value->value;
  }

  std::optional<std::int64_t> Integer(const Field& f) {
    const YamlNode& v = *f.value;
    if (v.kind != Kind::kScalar || !v.plain || IsBoolWord(v.value)) {
      TypeError(f, "an integer");
      return std::nullopt;
    }
    std::string_view text = v.value;
    if (text.starts_with('+')) text.remove_prefix(1);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc::result_out_of_range) {
      Error(At(f), f.path, fmt::format("{} is out of range", v.value));
      return std::nullopt;
    }
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
      TypeError(f, "an integer");
      return std::nullopt;
    }
    return n;
  }

  // true or false (YAML's spellings of them), nothing else.
  std::optional<bool> Bool(const Field& f) {
    const YamlNode& v = *f.value;
    if (v.kind != Kind::kScalar || !v.plain || !IsBoolWord(v.value)) {
      TypeError(f, "true or false");
      return std::nullopt;
    }
    return v.value[0] == 't' || v.value[0] == 'T';
  }

  std::optional<std::vector<std::string>> StringList(const Field& f, std::string_view hint = {}) {
    if (f.value->kind != Kind::kSequence) {
      TypeError(f, "a list of strings", hint);
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < f.value->items.size(); ++i) {
      const YamlNode* item = f.value->items[i].get();
      Field element{item, item, fmt::format("{}[{}]", f.path, i)};
      Record(element);
      if (auto s = String(element)) {
        out.push_back(std::move(*s));
      } else {
        ok = false;
      }
    }
    if (!ok) {
      out_.failed_paths.push_back(f.path);  // given, though wrong: not "missing" too
      return std::nullopt;
    }
    return out;
  }

  // A mapping of names to strings (labels, env); bad entries are reported and left out.
  std::map<std::string, std::string> StringMap(const Field& f) {
    std::map<std::string, std::string> out;
    if (!ExpectMapping(f)) return out;
    std::map<std::string, Position> seen;
    for (const YamlNode::Entry& e : f.value->entries) {
      if (e.key->kind != Kind::kScalar) {
        NonStringKey(*e.key, f.path);
        continue;
      }
      Field entry{e.key.get(), e.value.get(), f.path + "." + e.key->value};
      if (auto [it, inserted] = seen.emplace(e.key->value, e.key->position); !inserted) {
        if (!e.merged) DuplicateKey(*e.key, entry.path, it->second);
        continue;
      }
      Record(entry);
      const YamlNode& v = *e.value;
      bool quotable =
          v.kind == Kind::kNull || (v.kind == Kind::kScalar && v.plain && IsBoolWord(v.value));
      if (auto s = String(
              entry, quotable ? " (quote values like \"true\", or write \"\" for empty)" : "")) {
        out.emplace(e.key->value, std::move(*s));
      }
    }
    return out;
  }

 private:
  DecodedDocument& out_;
};

template <typename Manifest>
void DecodeMetadata(Decoder& d, const Field& metadata, Manifest& m) {
  if (!d.ExpectMapping(metadata)) return;
  auto fields = d.Fields(*metadata.value, "metadata", kMetadataFields);
  if (auto it = fields.find("name"); it != fields.end()) m.name = d.String(it->second);
  if (auto it = fields.find("namespace"); it != fields.end())
    m.namespace_name = d.String(it->second);
  if constexpr (std::is_same_v<Manifest, spec::FunctionManifest>) {
    if (auto it = fields.find("labels"); it != fields.end()) m.labels = d.StringMap(it->second);
    if (auto it = fields.find("annotations"); it != fields.end()) {
      m.annotations = d.StringMap(it->second);
    }
  } else {
    // Checked for shape; secrets carry no labels or annotations further.
    for (const char* name : {"labels", "annotations"}) {
      if (auto it = fields.find(name); it != fields.end()) d.StringMap(it->second);
    }
  }
}

// spec.triggers: a list of mappings, each at spec.triggers[i].
void DecodeTriggers(Decoder& d, const Field& f, spec::FunctionManifest& m) {
  if (f.value->kind != Kind::kSequence) {
    d.TypeError(f, "a list of triggers", " (write - cron: \"*/5 * * * *\" or - topic: name)");
    return;
  }
  for (std::size_t i = 0; i < f.value->items.size(); ++i) {
    const YamlNode* item = f.value->items[i].get();
    Field entry{item, item, fmt::format("{}[{}]", f.path, i)};
    d.Record(entry);
    if (!d.ExpectMapping(entry)) continue;
    auto fields = d.Fields(*item, entry.path, kTriggerFields);
    spec::TriggerManifest t;
    auto string = [&](std::string_view name, std::optional<std::string>& out) {
      if (auto it = fields.find(name); it != fields.end()) out = d.String(it->second);
    };
    string("cron", t.cron);
    string("timezone", t.timezone);
    string("missed", t.missed);
    string("body", t.body);
    string("topic", t.topic);
    if (auto it = fields.find("headers"); it != fields.end()) t.headers = d.StringMap(it->second);
    m.triggers.push_back(std::move(t));
  }
}

void DecodeFunctionSpec(Decoder& d, const Field& spec_field, spec::FunctionManifest& m) {
  if (!d.ExpectMapping(spec_field)) return;
  auto fields = d.Fields(*spec_field.value, "spec", kFunctionFields);
  auto get = [&](std::string_view name) -> const Field* {
    auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  };
  if (auto* f = get("runtime")) m.runtime = d.String(*f);
  if (auto* f = get("handler")) m.handler = d.String(*f);
  if (auto* f = get("command")) {
    std::string hint;
    if (f->value->kind == Kind::kScalar) hint = fmt::format(" (write [\"{}\"])", f->value->value);
    m.command = d.StringList(*f, hint);
  }
  if (auto* f = get("source")) m.source = d.String(*f);
  if (auto* f = get("dockerfile")) m.dockerfile = d.String(*f);
  if (auto* f = get("image")) m.image = d.String(*f);
  if (auto* f = get("port")) m.port = d.Integer(*f);
  if (auto* f = get("protocol")) m.protocol = d.String(*f);
  if (auto* f = get("env")) m.env = d.StringMap(*f);
  if (auto* f = get("secrets")) {
    if (auto list = d.StringList(*f)) m.secrets = std::move(*list);
  }
  if (auto* f = get("resources"); f && d.ExpectMapping(*f)) {
    auto resources = d.Fields(*f->value, "spec.resources", kResourceFields);
    if (auto it = resources.find("memory"); it != resources.end()) m.memory = d.String(it->second);
    if (auto it = resources.find("cpu"); it != resources.end()) m.cpu = d.String(it->second);
  }
  if (auto* f = get("timeout")) m.timeout = d.String(*f);
  if (auto* f = get("concurrency")) m.concurrency = d.Integer(*f);
  if (auto* f = get("network")) m.network = d.String(*f);
  if (auto* f = get("readOnlyRootFilesystem")) m.read_only_root = d.Bool(*f);
  if (auto* f = get("scale"); f && d.ExpectMapping(*f)) {
    auto scale = d.Fields(*f->value, "spec.scale", kScaleFields);
    if (auto it = scale.find("min"); it != scale.end()) m.scale_min = d.Integer(it->second);
    if (auto it = scale.find("max"); it != scale.end()) m.scale_max = d.Integer(it->second);
    if (auto it = scale.find("idleTimeout"); it != scale.end())
      m.idle_timeout = d.String(it->second);
    if (auto it = scale.find("pauseAfter"); it != scale.end()) m.pause_after = d.String(it->second);
    if (auto it = scale.find("keepAlive"); it != scale.end()) m.keep_alive = d.String(it->second);
  }
  if (auto* f = get("triggers")) DecodeTriggers(d, *f, m);
}

void DecodeSecretSpec(Decoder& d, const Field& spec_field, spec::SecretManifest& m) {
  if (!d.ExpectMapping(spec_field)) return;
  auto fields = d.Fields(*spec_field.value, "spec", kSecretFields);
  if (auto it = fields.find("value"); it != fields.end()) m.value = d.String(it->second);
  if (auto it = fields.find("file"); it != fields.end()) m.file = d.String(it->second);
  if (auto it = fields.find("fromEnv"); it != fields.end()) m.from_env = d.String(it->second);
}

}  // namespace

DecodedDocument DecodeDocument(const YamlDocument& document, const std::string& base_dir) {
  DecodedDocument out;
  out.index.SetDocument(document.root->position.line > 0 ? document.root->position
                                                         : document.start);
  Decoder d(out);
  const YamlNode& root = *document.root;
  if (root.kind != Kind::kMapping) {
    d.Error(root.position, "",
            fmt::format("expected a mapping with apiVersion, kind, metadata and spec, got {}",
                        DescribeKind(root)));
    return out;
  }
  auto fields = d.Fields(root, "", kTopFields);
  auto missing = [&](std::string_view name, std::string message) {
    // Not when a misspelling of it was already reported ("specs: ... did you mean").
    for (const std::string& failed : out.failed_paths) {
      if (failed == name) return;
    }
    d.Error(root.position, std::string(name), std::move(message));
  };

  bool usable = true;
  if (auto it = fields.find("apiVersion"); it == fields.end()) {
    missing("apiVersion", fmt::format("required ({})", spec::kApiVersion));
    usable = false;
  } else if (auto version = d.String(it->second); !version) {
    usable = false;
  } else if (*version != spec::kApiVersion) {
    d.Error(Decoder::At(it->second), "apiVersion",
            fmt::format("unsupported version \"{}\" (this gantry reads {})", *version,
                        spec::kApiVersion));
    usable = false;
  }

  std::optional<std::string> kind;
  if (auto it = fields.find("kind"); it == fields.end()) {
    missing("kind", "required (Function or Secret)");
  } else if ((kind = d.String(it->second)) && *kind != "Function" && *kind != "Secret") {
    if (auto near = spec::Suggest(*kind, kKinds)) {
      d.Error(Decoder::At(it->second), "kind",
              fmt::format("unknown kind \"{}\" (did you mean \"{}\"?)", *kind, *near));
    } else {
      d.Error(Decoder::At(it->second), "kind",
              fmt::format("unknown kind \"{}\" (Function or Secret)", *kind));
    }
    kind.reset();
  }
  if (!kind) return out;

  auto decode = [&](auto& manifest, auto decode_spec) {
    manifest.base_dir = base_dir;
    if (auto it = fields.find("metadata"); it != fields.end()) {
      DecodeMetadata(d, it->second, manifest);
    } else {
      missing("metadata", "required (with at least a name)");
    }
    if (auto it = fields.find("spec"); it != fields.end()) {
      decode_spec(d, it->second, manifest);
    } else {
      missing("spec", "required");
    }
  };
  if (*kind == "Function") {
    spec::FunctionManifest m;
    decode(m, DecodeFunctionSpec);
    if (usable) out.manifest = std::move(m);
  } else {
    spec::SecretManifest m;
    decode(m, DecodeSecretSpec);
    if (usable) out.manifest = std::move(m);
  }
  return out;
}

}  // namespace gantry::manifest
