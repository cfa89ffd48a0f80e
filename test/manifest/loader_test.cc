#include "manifest/loader.h"

#include <catch2/catch.hpp>
#include <string>

#include "manifest/source_tree.h"

namespace gantry::manifest {
namespace {

std::vector<std::string> Errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  return out;
}

std::string HashOf(MemoryFileSystem& fs, std::string_view text) {
  LoadResult r = LoadManifestText(fs, text, "f.yaml", "fns", {});
  INFO(Catch::Detail::stringify(Errors(r)));
  REQUIRE(r.ok());
  REQUIRE(r.objects.size() == 1);
  auto hash = HashFunction(fs, std::get<spec::FunctionSpec>(r.objects[0].object));
  REQUIRE(hash.ok());
  return *hash;
}

MemoryFileSystem SourceFiles() {
  MemoryFileSystem fs;
  fs.AddFile("fns/src/handler.py", "def main(event, context):\n    return event\n");
  fs.AddFile("fns/src/lib/util.py", "X = 1\n");
  return fs;
}

constexpr std::string_view kBlock = R"(apiVersion: gantry.dev/v1
kind: Function
metadata:
  name: echo
  labels:
    team: web
spec:
  runtime: python3
  handler: handler.main
  source: ./src
  env:
    GREETING: hi
    LEVEL: "3"
  resources:
    memory: 128Mi
    cpu: "0.5"
  scale:
    min: 1
    max: 4
)";

TEST_CASE("The hash does not change when the YAML is reformatted", "[manifest][hash]") {
  MemoryFileSystem fs = SourceFiles();
  std::string base = HashOf(fs, kBlock);
  const std::string_view same[] = {
      // flow style, keys reordered, comments, other quoting, equal quantities
      R"(# echo, reformatted
kind: Function
spec: {scale: {max: 4, min: 1}, source: "src/", handler: 'handler.main', runtime: python3,
       resources: {cpu: 500m, memory: "134217728"}, env: {LEVEL: 3, GREETING: "hi"}}
metadata: {labels: {team: web}, name: echo}
apiVersion: "gantry.dev/v1"
)",
      // defaults written out explicitly
      R"(apiVersion: gantry.dev/v1
kind: Function
metadata: {name: echo, namespace: default, labels: {team: web}}
spec:
  runtime: python3
  handler: handler.main
  source: ./src/../src
  env: {GREETING: hi, LEVEL: "3"}
  secrets: []
  resources: {memory: 0.125Gi, cpu: 0.5}
  timeout: 30s
  concurrency: 1
  scale: {min: 1, max: 4, idleTimeout: 300s}
)",
      // anchors and merge keys
      R"(apiVersion: gantry.dev/v1
kind: Function
metadata: {name: echo, labels: &labels {team: web}}
spec:
  <<: &common {runtime: python3, handler: handler.main, source: src}
  env: {GREETING: hi, LEVEL: "3"}
  resources: {memory: 128Mi, cpu: "0.5"}
  scale: {min: 1, max: 4}
)",
      // JSON
      R"({"apiVersion": "gantry.dev/v1", "kind": "Function",
 "metadata": {"name": "echo", "labels": {"team": "web"}},
 "spec": {"runtime": "python3", "handler": "handler.main", "source": "src",
          "env": {"GREETING": "hi", "LEVEL": "3"},
          "resources": {"memory": "128Mi", "cpu": "0.5"}, "scale": {"min": 1, "max": 4}}})",
  };
  for (std::string_view text : same) {
    INFO(text);
    CHECK(HashOf(fs, text) == base);
  }
}

TEST_CASE("The hash changes with any value or source byte", "[manifest][hash]") {
  MemoryFileSystem fs = SourceFiles();
  std::string base = HashOf(fs, kBlock);
  std::string text(kBlock);
  for (auto [from, to] : {std::pair{"GREETING: hi", "GREETING: hello"},
                          {"max: 4", "max: 5"},
                          {"memory: 128Mi", "memory: 256Mi"},
                          {"team: web", "team: api"}}) {
    std::string changed = text;
    changed.replace(changed.find(from), std::string_view(from).size(), to);
    INFO(to);
    CHECK(HashOf(fs, changed) != base);
  }
  MemoryFileSystem edited = SourceFiles();
  edited.AddFile("fns/src/lib/util.py", "X = 2\n");
  CHECK(HashOf(edited, kBlock) != base);
  MemoryFileSystem added = SourceFiles();
  added.AddFile("fns/src/new.py", "");
  CHECK(HashOf(added, kBlock) != base);
  MemoryFileSystem exec = SourceFiles();
  exec.AddFile("fns/src/handler.py", "def main(event, context):\n    return event\n", true);
  CHECK(HashOf(exec, kBlock) != base);
}

TEST_CASE("Directories are read in name order, sub-directories only with -R",
          "[manifest][loader]") {
  MemoryFileSystem fs;
  auto fn = [](std::string name) {
    return "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: " + name +
           "}\nspec: {runtime: exec, command: [cat]}\n";
  };
  fs.AddFile("m/b.yaml", fn("b"));
  fs.AddFile("m/a.yml", fn("a"));
  fs.AddFile("m/notes.txt", "not a manifest");
  fs.AddFile("m/sub/c.json", fn("c"));

  LoadResult flat = LoadManifests(fs, {"m"}, {});
  REQUIRE(flat.ok());
  CHECK(flat.files == std::vector<std::string>{"m/a.yml", "m/b.yaml"});

  LoadOptions recursive;
  recursive.recursive = true;
  LoadResult deep = LoadManifests(fs, {"m/"}, recursive);
  REQUIRE(deep.ok());
  CHECK(deep.files == std::vector<std::string>{"m/a.yml", "m/b.yaml", "m/sub/c.json"});
  REQUIRE(deep.objects.size() == 3);
  CHECK(std::get<spec::FunctionSpec>(deep.objects[2].object).name() == "c");

  LoadResult empty = LoadManifests(fs, {"m/sub/none", "m/sub"}, {});
  CHECK(Errors(empty) == std::vector<std::string>{"m/sub/none: no such file or directory"});

  MemoryFileSystem only_dirs;
  only_dirs.AddFile("d/sub/x.yaml", fn("x"));
  CHECK(Errors(LoadManifests(only_dirs, {"d"}, {})) ==
        std::vector<std::string>{
            "d: no Gantry manifests (.yaml, .yml or .json files with apiVersion: "
            "gantry.dev/...) (use -R to read sub-directories)"});
}

TEST_CASE("Gantry manifests are told from other YAML and JSON by their apiVersion",
          "[manifest][loader]") {
  struct Case {
    std::string_view text;
    bool gantry;
  };
  const Case cases[] = {
      {"apiVersion: gantry.dev/v1\nkind: Function\n", true},
      {"# deploys\n---\napiVersion:   'gantry.dev/v1'\n", true},
      {"kind: Secret\napiVersion: \"gantry.dev/v1\"\n", true},
      {"{apiVersion: gantry.dev/v1, kind: Function}", true},
      {"{\"kind\": \"Function\", \"apiVersion\": \"gantry.dev/v1\"}", true},
      {"  - apiVersion: gantry.dev/v2\n", true},  // wrong version: read, so the error is told
      {"apiVersion: apps/v1\nkind: Deployment\n", false},
      {"{\"name\": \"hello-node\", \"dependencies\": {\"left-pad\": \"file:./vendor\"}}", false},
      {"myapiVersion: gantry.dev/v1\n", false},
      {"apiVersion: notgantry.dev/v1\n", false},
      {"description: see gantry.dev/v1 for apiVersion\n", false},
      {"", false},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(MentionsGantryApiVersion(c.text) == c.gantry);
  }
  for (std::string_view name :
       {"gantry.yaml", "gantry.yml", "gantry.json", "api.gantry.yaml", "x.gantry.yml"}) {
    CHECK(IsConventionalManifestName(name));
  }
  for (std::string_view name :
       {"package.json", "gantry.yaml.bak", "mygantry.yaml", "gantry.toml"}) {
    CHECK_FALSE(IsConventionalManifestName(name));
  }
}

// A node function as people write it: its manifest beside package.json, tsconfig.json and
// CI YAML, installed modules below.
MemoryFileSystem NodeProject() {
  MemoryFileSystem fs;
  fs.AddFile("app/.github/workflows/ci.yml", "on: push\njobs: {}\n");
  fs.AddFile("app/.gitlab-ci.yml", "stages: [test]\n");
  fs.AddFile("app/docker-compose.yaml", "services: {db: {image: postgres}}\n");
  fs.AddFile("app/functions.yaml",
             "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: api}\n"
             "spec: {runtime: node, handler: handler.main, source: ./src}\n");
  fs.AddFile(
      "app/gantry.yaml",
      "apiVersion: gantry.dev/v1\nkind: Secret\nmetadata: {name: token}\nspec: {value: t}\n");
  fs.AddFile("app/src/handler.js", "exports.main = async (e) => e;\n");
  fs.AddFile("app/src/package.json", "{\"name\": \"api\", \"version\": \"1.0.0\"}\n");
  fs.AddFile("app/src/package-lock.json", std::string(2 << 20, ' '));  // bigger than any manifest
  fs.AddFile("app/src/tsconfig.json", "{\"compilerOptions\": {}}\n");
  fs.AddFile("app/src/node_modules/dep/gantry.yaml", "apiVersion: gantry.dev/v1\nkind: Nonsense\n");
  fs.AddFile("app/src/node_modules/dep/package.json", "{}");
  fs.AddFile("app/tsconfig.json", "{\"compilerOptions\": {\"strict\": true}}\n");
  return fs;
}

TEST_CASE("A directory's other YAML and JSON files are skipped, not read as manifests",
          "[manifest][loader]") {
  MemoryFileSystem fs = NodeProject();
  LoadResult flat = LoadManifests(fs, {"app"}, {});
  INFO(Catch::Detail::stringify(Errors(flat)));
  REQUIRE(flat.ok());
  CHECK(flat.files == std::vector<std::string>{"app/functions.yaml", "app/gantry.yaml"});
  CHECK(flat.skipped == std::vector<std::string>{"app/.gitlab-ci.yml", "app/docker-compose.yaml",
                                                 "app/tsconfig.json"});
  CHECK(flat.objects.size() == 2);

  LoadOptions recursive;
  recursive.recursive = true;
  LoadResult deep = LoadManifests(fs, {"app"}, recursive);
  INFO(Catch::Detail::stringify(Errors(deep)));
  REQUIRE(deep.ok());
  // Neither .github nor node_modules is entered; the source's own JSON is skipped, the huge
  // lock file too (and is not an error).
  CHECK(deep.files == std::vector<std::string>{"app/functions.yaml", "app/gantry.yaml"});
  CHECK(deep.skipped == std::vector<std::string>{"app/.gitlab-ci.yml", "app/docker-compose.yaml",
                                                 "app/src/package-lock.json",
                                                 "app/src/package.json", "app/src/tsconfig.json",
                                                 "app/tsconfig.json"});

  // Only other files: an error that says so.
  CHECK(Errors(LoadManifests(fs, {"app/src"}, {})) ==
        std::vector<std::string>{
            "app/src: no Gantry manifests (.yaml, .yml or .json files with apiVersion: "
            "gantry.dev/...); 3 other files skipped"});
}

TEST_CASE("A file named on the command line is always read, and must be a manifest",
          "[manifest][loader]") {
  MemoryFileSystem fs = NodeProject();
  LoadResult r = LoadManifests(fs, {"app/src/package.json"}, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.files == std::vector<std::string>{"app/src/package.json"});
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].file == "app/src/package.json");
  CHECK_THAT(r.errors[0].ToString(), Catch::Contains("apiVersion"));

  // A manifest found in a directory with a syntax error is still a manifest: its errors
  // are told, not skipped.
  fs.AddFile("broken/fn.yaml", "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: x\n");
  LoadResult broken = LoadManifests(fs, {"broken"}, {});
  CHECK(broken.files == std::vector<std::string>{"broken/fn.yaml"});
  CHECK_FALSE(broken.ok());
  // A conventional name is read whatever it holds.
  fs.AddFile("conventional/gantry.yml", "kind: Function\n");
  LoadResult conventional = LoadManifests(fs, {"conventional"}, {});
  CHECK(conventional.files == std::vector<std::string>{"conventional/gantry.yml"});
  CHECK_FALSE(conventional.ok());
}

TEST_CASE("Standard input (-f -) is read, with paths relative to the current directory",
          "[manifest][loader]") {
  MemoryFileSystem fs;
  fs.AddFile("src/handler.py", "def main(e, c):\n    return e\n");
  fs.AddFile("more/b.yaml",
             "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: b}\n"
             "spec: {runtime: exec, command: [cat]}\n");
  const std::string piped =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: a}\n"
      "spec: {runtime: python3, handler: handler.main, source: ./src}\n"
      "---\n"
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: b}\nspec: {runtime: exec, "
      "command: [cat]}\n";
  int reads = 0;
  LoadOptions options;
  options.read_stdin = [&]() -> core::Result<std::string> {
    ++reads;
    return piped;
  };
  LoadResult r = LoadManifests(fs, {"-", "more"}, options);
  CHECK(reads == 1);
  CHECK(r.files == std::vector<std::string>{"<stdin>", "more/b.yaml"});
  REQUIRE(r.objects.size() == 2);
  const auto& a = std::get<spec::FunctionSpec>(r.objects[0].object);
  CHECK(a.name() == "a");
  CHECK(a.source() == "src");
  CHECK(r.objects[0].file == "<stdin>");
  // One batch: a name given on stdin and in a file is a duplicate.
  CHECK(Errors(r) == std::vector<std::string>{"more/b.yaml:3:18: metadata.name: function "
                                              "\"default/b\" is already defined at <stdin>:8:18"});

  // A source that is not there relative to the current directory is told.
  options.read_stdin = [] {
    return core::Result<std::string>(
        std::string("apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: c}\n"
                    "spec: {runtime: python3, handler: handler.main, source: ./nowhere}\n"));
  };
  LoadResult missing = LoadManifests(fs, {"-"}, options);
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].file == "<stdin>");
  CHECK(missing.errors[0].path == "spec.source");
  CHECK_THAT(missing.errors[0].message, Catch::Contains("relative to the current directory"));

  options.read_stdin = [] { return core::Result<std::string>(std::string("# nothing\n")); };
  CHECK(Errors(LoadManifests(fs, {"-", "-"}, options)) ==
        std::vector<std::string>{"<stdin>: standard input named more than once"});
  CHECK(Errors(LoadManifests(fs, {"-"}, {})) ==
        std::vector<std::string>{"<stdin>: standard input cannot be read here"});
  options.read_stdin = [] {
    return core::Result<std::string>(core::Error::Unavailable("cannot read standard input"));
  };
  CHECK(Errors(LoadManifests(fs, {"-"}, options)) ==
        std::vector<std::string>{"<stdin>: cannot read standard input"});
}

TEST_CASE("Duplicate names are found across files", "[manifest][loader]") {
  MemoryFileSystem fs;
  std::string doc =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: echo}\nspec: {runtime: exec, "
      "command: [cat]}\n";
  fs.AddFile("a.yaml", doc);
  fs.AddFile("b.yaml", "# the same again\n" + doc);
  LoadResult r = LoadManifests(fs, {"a.yaml", "b.yaml"}, {});
  CHECK(r.objects.size() == 1);
  CHECK(Errors(r) ==
        std::vector<std::string>{"b.yaml:4:18: metadata.name: function \"default/echo\" is already "
                                 "defined at a.yaml:3:18"});
}

TEST_CASE("Undefined secrets: reported as the check mode says", "[manifest][loader]") {
  MemoryFileSystem fs;
  std::string fn =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: echo}\n"
      "spec: {runtime: exec, command: [cat], secrets: [db-pass]}\n";
  std::string secret =
      "---\napiVersion: gantry.dev/v1\nkind: Secret\nmetadata: {name: db-password}\n"
      "spec: {fromEnv: DB_PASSWORD}\n";
  struct Case {
    std::string text;
    SecretCheck check;
    std::size_t errors;
  };
  const Case cases[] = {
      {fn, SecretCheck::kDefinedNamespaces, 0},
      {fn, SecretCheck::kAll, 1},
      {fn + secret, SecretCheck::kDefinedNamespaces, 1},
      {fn + secret, SecretCheck::kNone, 0},
  };
  for (const Case& c : cases) {
    LoadOptions options;
    options.secret_check = c.check;
    LoadResult r = LoadManifestText(fs, c.text, "f.yaml", "", options);
    CHECK(r.errors.size() == c.errors);
  }
  LoadResult r = LoadManifestText(fs, fn + secret, "f.yaml", "", {});
  CHECK(Errors(r) ==
        std::vector<std::string>{
            "f.yaml:4:49: spec.secrets[0]: secret \"db-pass\" is not defined in namespace "
            "\"default\""});
  CHECK(r.objects.size() == 1);  // the secret; the function is left out
}

TEST_CASE("A document with any error is not a valid object", "[manifest][loader]") {
  MemoryFileSystem fs;
  const std::string good =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: ok}\n"
      "spec: {runtime: exec, command: [cat]}\n";
  const std::string_view extras[] = {
      "  extra: 1\n",                    // unknown field
      "  <<: 3\n",                       // bad merge key
      "  ? [a]\n  : b\n",                // key that is not a string
      "  timeout: 1s\n  timeout: 2s\n",  // duplicate key
  };
  for (std::string_view extra : extras) {
    INFO(extra);
    std::string bad =
        "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: bad}\n"
        "spec:\n  runtime: exec\n  command: [cat]\n" +
        std::string(extra);
    LoadResult r = LoadManifestText(fs, good + "---\n" + bad, "f.yaml", "", {});
    CHECK_FALSE(r.ok());
    REQUIRE(r.objects.size() == 1);
    CHECK(std::get<spec::FunctionSpec>(r.objects[0].object).name() == "ok");
  }
}

TEST_CASE("A bad key does not hide the other errors of its mapping", "[manifest][loader]") {
  MemoryFileSystem fs;
  LoadResult r = LoadManifestText(fs,
                                  "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: x}\n"
                                  "spec:\n  runtime: exec\n  command: [cat]\n  ? [a]\n  : b\n"
                                  "  concurrency: 0\n  env: {? [k] : v, 1X: y}\n",
                                  "f.yaml", "", {});
  CHECK(Errors(r) ==
        std::vector<std::string>{"f.yaml:7:5: spec: keys must be strings, got a list",
                                 "f.yaml:9:16: spec.concurrency: must be between 1 and 1000 (is 0)",
                                 "f.yaml:10:11: spec.env: keys must be strings, got a list",
                                 "f.yaml:10:20: spec.env.1X: \"1X\" is not a valid variable name: "
                                 "must not start with a digit"});
}

}  // namespace
}  // namespace gantry::manifest
