#include <catch2/catch.hpp>

#include <string>

#include "manifest/loader.h"
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
  for (auto [from, to] : {std::pair{"GREETING: hi", "GREETING: hello"}, {"max: 4", "max: 5"},
                          {"memory: 128Mi", "memory: 256Mi"}, {"team: web", "team: api"}}) {
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

TEST_CASE("Directories are read in name order, sub-directories only with -R", "[manifest][loader]") {
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
        std::vector<std::string>{"d: no .yaml, .yml or .json files (use -R to read sub-directories)"});
}

TEST_CASE("Duplicate names are found across files", "[manifest][loader]") {
  MemoryFileSystem fs;
  std::string doc = "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: echo}\nspec: {runtime: exec, command: [cat]}\n";
  fs.AddFile("a.yaml", doc);
  fs.AddFile("b.yaml", "# the same again\n" + doc);
  LoadResult r = LoadManifests(fs, {"a.yaml", "b.yaml"}, {});
  CHECK(r.objects.size() == 1);
  CHECK(Errors(r) == std::vector<std::string>{
                         "b.yaml:4:18: metadata.name: function \"default/echo\" is already defined at a.yaml:3:18"});
}

TEST_CASE("Undefined secrets: reported as the check mode says", "[manifest][loader]") {
  MemoryFileSystem fs;
  std::string fn = "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: echo}\n"
                   "spec: {runtime: exec, command: [cat], secrets: [db-pass]}\n";
  std::string secret = "---\napiVersion: gantry.dev/v1\nkind: Secret\nmetadata: {name: db-password}\n"
                       "spec: {fromEnv: DB_PASSWORD}\n";
  struct Case {
    std::string text;
    SecretCheck check;
    std::size_t errors;
  };
  const Case cases[] = {
      {fn, SecretCheck::kDefinedNamespaces, 0}, {fn, SecretCheck::kAll, 1},
      {fn + secret, SecretCheck::kDefinedNamespaces, 1}, {fn + secret, SecretCheck::kNone, 0},
  };
  for (const Case& c : cases) {
    LoadOptions options;
    options.secret_check = c.check;
    LoadResult r = LoadManifestText(fs, c.text, "f.yaml", "", options);
    CHECK(r.errors.size() == c.errors);
  }
  LoadResult r = LoadManifestText(fs, fn + secret, "f.yaml", "", {});
  CHECK(Errors(r) == std::vector<std::string>{
                         "f.yaml:4:49: spec.secrets[0]: secret \"db-pass\" is not defined in namespace "
                         "\"default\""});
  CHECK(r.objects.size() == 1);  // the secret; the function is left out
}

TEST_CASE("A document with any error is not a valid object", "[manifest][loader]") {
  MemoryFileSystem fs;
  const std::string good = "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: ok}\n"
                           "spec: {runtime: exec, command: [cat]}\n";
  const std::string_view extras[] = {
      "  extra: 1\n",           // unknown field
      "  <<: 3\n",              // bad merge key
      "  ? [a]\n  : b\n",       // key that is not a string
      "  timeout: 1s\n  timeout: 2s\n",  // duplicate key
  };
  for (std::string_view extra : extras) {
    INFO(extra);
    std::string bad = "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: bad}\n"
                      "spec:\n  runtime: exec\n  command: [cat]\n" + std::string(extra);
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
  CHECK(Errors(r) == std::vector<std::string>{
                         "f.yaml:7:5: spec: keys must be strings, got a list",
                         "f.yaml:9:16: spec.concurrency: must be between 1 and 1000 (is 0)",
                         "f.yaml:10:11: spec.env: keys must be strings, got a list",
                         "f.yaml:10:20: spec.env.1X: \"1X\" is not a valid variable name: must not start with a digit"});
}

}  // namespace
}  // namespace gantry::manifest
