#include "spec/validate.h"

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "spec/content_hash.h"

namespace gantry::spec {
namespace {

FunctionManifest Python() {
  FunctionManifest m;
  m.name = "echo";
  m.runtime = "python3";
  m.handler = "handler.main";
  m.source = "./src";
  m.base_dir = "fns";
  return m;
}

TEST_CASE("A minimal manifest gets every default", "[spec][validate]") {
  std::vector<FieldError> errors;
  auto spec = ValidateFunction(Python(), errors);
  REQUIRE(spec.ok());
  CHECK(errors.empty());
  CHECK(spec->QualifiedName() == "default/echo");
  CHECK(spec->runtime() == Runtime::kPython3);
  CHECK(spec->source() == "src");
  CHECK(spec->source_path() == "fns/src");
  CHECK(spec->resources().memory_bytes == kDefaultMemoryBytes);
  CHECK(spec->resources().cpu_millis == kDefaultCpuMillis);
  CHECK(spec->timeout() == kDefaultTimeout);
  CHECK(spec->concurrency() == kDefaultConcurrency);
  CHECK(spec->scale().min == 0);
  CHECK(spec->scale().max == 10);
  CHECK(spec->scale().idle_timeout == kDefaultIdleTimeout);
  CHECK(spec->port() == 0);
  CHECK(spec->image().empty());
  CHECK(spec->network() == Network::kDefault);  // like Lambda and OpenFaaS: the network is there
}

TEST_CASE("spec.network: default or none, none needs no published port", "[spec][validate]") {
  struct Case {
    std::string runtime;
    std::string network;
    std::optional<Network> want;  // nullopt: an error at spec.network
  };
  for (const Case& c : std::vector<Case>{{"python3", "none", Network::kNone},
                                         {"python3", "default", Network::kDefault},
                                         {"exec", "none", Network::kNone},
                                         {"python3", "host", std::nullopt},
                                         {"python3", "bridge", std::nullopt},
                                         {"python3", "", std::nullopt},
                                         {"image", "none", std::nullopt},
                                         {"image", "default", Network::kDefault}}) {
    INFO(c.runtime << " " << c.network);
    FunctionManifest m = Python();
    m.runtime = c.runtime;
    if (c.runtime == "exec") {
      m.handler.reset();
      m.command = std::vector<std::string>{"cat"};
    } else if (c.runtime == "image") {
      m.handler.reset();
      m.source.reset();
      m.image = "my/web:1";
    }
    m.network = c.network;
    std::vector<FieldError> errors;
    auto spec = ValidateFunction(m, errors);
    if (c.want) {
      REQUIRE(spec.ok());
      CHECK(spec->network() == *c.want);
    } else {
      REQUIRE_FALSE(spec.ok());
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].path == "spec.network");
    }
  }
}

TEST_CASE("Each mistake is reported at its own path", "[spec][validate]") {
  struct Case {
    std::string name;
    std::function<void(FunctionManifest&)> change;
    std::string path;
    std::string message;  // a part of it
  };
  const std::vector<Case> cases = {
      {"no name", [](auto& m) { m.name.reset(); }, "metadata.name", "required"},
      {"upper-case name", [](auto& m) { m.name = "Echo"; }, "metadata.name", "must be lower case"},
      {"bad namespace", [](auto& m) { m.namespace_name = "a_b"; }, "metadata.namespace",
       "not a valid namespace"},
      {"bad label", [](auto& m) { m.labels["-x"] = "y"; }, "metadata.labels.-x",
       "not a valid label key"},
      {"no runtime", [](auto& m) { m.runtime.reset(); }, "spec.runtime", "required"},
      {"runtime typo", [](auto& m) { m.runtime = "pyhton3"; }, "spec.runtime",
       "did you mean \"python3\""},
      {"no handler", [](auto& m) { m.handler.reset(); }, "spec.handler",
       "required for runtime python3"},
      {"handler shape", [](auto& m) { m.handler = "main"; }, "spec.handler", "<module>.<function>"},
      {"command for python3", [](auto& m) { m.command = std::vector<std::string>{"cat"}; },
       "spec.command", "not allowed for runtime python3"},
      {"image for python3", [](auto& m) { m.image = "a/b:1"; }, "spec.image", "not allowed"},
      {"port for python3", [](auto& m) { m.port = 80; }, "spec.port", "not allowed"},
      {"protocol for python3", [](auto& m) { m.protocol = "lambda"; }, "spec.protocol",
       "only dockerfile and image"},
      {"no source", [](auto& m) { m.source.reset(); }, "spec.source",
       "required for runtime python3"},
      {"env name", [](auto& m) { m.env["1X"] = "y"; }, "spec.env.1X", "not a valid variable name"},
      {"secret twice",
       [](auto& m) {
         m.secrets = {"a", "a"};
       },
       "spec.secrets[1]", "listed twice"},
      {"memory", [](auto& m) { m.memory = "1Mi"; }, "spec.resources.memory",
       "must be between 6Mi and 64Gi"},
      {"cpu", [](auto& m) { m.cpu = "1m"; }, "spec.resources.cpu", "must be between 10m and 64"},
      {"timeout", [](auto& m) { m.timeout = "2h"; }, "spec.timeout", "must be between 10ms and 1h"},
      {"concurrency", [](auto& m) { m.concurrency = 0; }, "spec.concurrency",
       "must be between 1 and 1000"},
      {"min > max",
       [](auto& m) {
         m.scale_min = 3;
         m.scale_max = 2;
       },
       "spec.scale.max", "must be ≥ spec.scale.min (3)"},
      {"min > default max", [](auto& m) { m.scale_min = 20; }, "spec.scale.min",
       "must be ≤ spec.scale.max (10, the default)"},
      {"idle", [](auto& m) { m.idle_timeout = "10ms"; }, "spec.scale.idleTimeout",
       "must be between 1s and 24h"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    FunctionManifest m = Python();
    c.change(m);
    std::vector<FieldError> errors;
    auto spec = ValidateFunction(m, errors);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error().code() == core::ErrorCode::kInvalidArgument);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].path == c.path);
    CHECK_THAT(errors[0].message, Catch::Contains(c.message));
  }
}

TEST_CASE("All errors are reported, not only the first", "[spec][validate]") {
  FunctionManifest m = Python();
  m.name = "Bad_Name";
  m.memory = "lots";
  m.concurrency = -1;
  std::vector<FieldError> errors;
  auto spec = ValidateFunction(m, errors);
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.error().message() == "3 errors");
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].path == "metadata.name");
  CHECK(errors[1].path == "spec.resources.memory");
  CHECK(errors[2].path == "spec.concurrency");
}

TEST_CASE("Runtime rules: required and forbidden fields", "[spec][validate]") {
  struct Case {
    std::string runtime;
    std::function<void(FunctionManifest&)> fill;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"exec", [](auto& m) { m.command = std::vector<std::string>{"cat"}; }, true},
      {"exec", [](auto&) {}, false},
      {"node",
       [](auto& m) {
         m.handler = "index.handler";
         m.source = "src";
       },
       true},
      {"image", [](auto& m) { m.image = "my/echo:1"; }, true},
      {"image",
       [](auto& m) {
         m.image = "my/echo:1";
         m.source = "src";
       },
       false},
      {"dockerfile", [](auto& m) { m.source = "app"; }, true},
      {"dockerfile",
       [](auto& m) {
         m.source = "app";
         m.dockerfile = "../Dockerfile";
       },
       false},
      {"dockerfile",
       [](auto& m) {
         m.handler = "a.b";
         m.source = "app";
       },
       false},
  };
  for (const Case& c : cases) {
    FunctionManifest m;
    m.name = "f";
    m.runtime = c.runtime;
    c.fill(m);
    std::vector<FieldError> errors;
    auto spec = ValidateFunction(m, errors);
    INFO(c.runtime << " " << (errors.empty() ? "" : errors[0].path + ": " + errors[0].message));
    CHECK(spec.ok() == c.ok);
  }
  FunctionManifest image;
  image.name = "f";
  image.runtime = "image";
  image.image = "my/echo:1";
  std::vector<FieldError> errors;
  auto spec = ValidateFunction(image, errors);
  REQUIRE(spec.ok());
  CHECK(spec->port() == kDefaultPort);
}

TEST_CASE("protocol lambda: image and dockerfile, no port, only http or lambda",
          "[spec][validate]") {
  FunctionManifest image;
  image.name = "ric";
  image.runtime = "image";
  image.image = "my/ric:1";
  image.protocol = "lambda";
  std::vector<FieldError> errors;
  auto spec = ValidateFunction(image, errors);
  REQUIRE(spec.ok());
  CHECK(spec->protocol() == Protocol::kLambda);
  CHECK(spec->port() == 0);  // reached through the Runtime API, not a port
  CHECK(ToCanonicalJson(*spec)["spec"]["protocol"] == "lambda");

  FunctionManifest http = image;
  http.protocol = "http";
  errors.clear();
  auto plain = ValidateFunction(http, errors);
  REQUIRE(plain.ok());
  CHECK(plain->protocol() == Protocol::kHttp);
  CHECK(plain->port() == kDefaultPort);
  // The default leaves the canonical form as it was before the field existed.
  CHECK_FALSE(ToCanonicalJson(*plain)["spec"].contains("protocol"));

  FunctionManifest with_port = image;
  with_port.port = 9000;
  errors.clear();
  CHECK_FALSE(ValidateFunction(with_port, errors).ok());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "spec.port");

  FunctionManifest typo = image;
  typo.protocol = "grpc";
  errors.clear();
  CHECK_FALSE(ValidateFunction(typo, errors).ok());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "spec.protocol");
}

TEST_CASE("Secrets take exactly one source", "[spec][validate]") {
  SecretManifest m;
  m.name = "db";
  std::vector<FieldError> errors;
  CHECK_FALSE(ValidateSecret(m, errors).ok());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == FieldError{"spec", "one of value, file or fromEnv is required"});

  errors.clear();
  m.value = "x";
  m.from_env = "DB";
  CHECK_FALSE(ValidateSecret(m, errors).ok());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "spec.fromEnv");

  errors.clear();
  m.from_env.reset();
  auto secret = ValidateSecret(m, errors);
  REQUIRE(secret.ok());
  CHECK(secret->source() == SecretSource::kLiteral);
  CHECK(ToCanonicalJson(*secret).dump().find("\"x\"") == std::string::npos);
}

TEST_CASE("Canonical JSON is complete, sorted and equal for equal meaning", "[spec][canonical]") {
  FunctionManifest a = Python();
  a.memory = "128Mi";
  a.cpu = "0.5";
  a.timeout = "30s";
  a.secrets = {"b", "a"};
  FunctionManifest b = Python();
  b.memory = "134217728";
  b.cpu = "500m";
  b.source = "src/";
  b.timeout = "0.5m";
  b.secrets = {"a", "b"};
  std::vector<FieldError> errors;
  auto spec_a = ValidateFunction(a, errors);
  auto spec_b = ValidateFunction(b, errors);
  REQUIRE(spec_a.ok());
  REQUIRE(spec_b.ok());
  CHECK(CanonicalString(*spec_a) == CanonicalString(*spec_b));
  CHECK(
      CanonicalString(*spec_a) ==
      R"({"apiVersion":"gantry.dev/v1","kind":"Function","metadata":{"labels":{},"name":"echo",)"
      R"("namespace":"default"},"spec":{"command":null,"concurrency":1,"dockerfile":null,"env":{},)"
      R"("handler":"handler.main","image":null,"network":"default","port":null,)"
      R"("resources":{"cpu":"500m","memory":"128Mi"},)"
      R"("runtime":"python3","scale":{"idleTimeout":"5m","max":10,"min":0},"secrets":["a","b"],)"
      R"("source":"src","timeout":"30s"}})");
}

TEST_CASE("Content hash follows the spec and every byte of the source", "[spec][hash]") {
  std::vector<FieldError> errors;
  auto spec = ValidateFunction(Python(), errors);
  REQUIRE(spec.ok());
  SourceTree tree;
  tree.entries.push_back({"handler.py", SourceEntry::Type::kFile, false, "aa"});
  tree.entries.push_back({"lib", SourceEntry::Type::kDirectory, false, ""});
  std::string base = ContentHash(*spec, tree);
  CHECK(base.starts_with("sha256:"));
  CHECK(base.size() == 7 + 64);
  CHECK(ContentHash(*spec, tree) == base);

  SourceTree reordered;
  reordered.entries = {tree.entries[1], tree.entries[0]};
  CHECK(ContentHash(*spec, reordered) == base);

  SourceTree changed = tree;
  changed.entries[0].digest = "ab";
  CHECK(ContentHash(*spec, changed) != base);
  SourceTree executable = tree;
  executable.entries[0].executable = true;
  CHECK(ContentHash(*spec, executable) != base);
  SourceTree renamed = tree;
  renamed.entries[0].path = "handler2.py";
  CHECK(ContentHash(*spec, renamed) != base);

  FunctionManifest other = Python();
  other.concurrency = 2;
  auto other_spec = ValidateFunction(other, errors);
  REQUIRE(other_spec.ok());
  CHECK(ContentHash(*other_spec, tree) != base);
}

TEST_CASE("Paths are normalised lexically", "[spec][validate]") {
  CHECK(NormalizePath("./src/") == "src");
  CHECK(NormalizePath("a/../b") == "b");
  CHECK(NormalizePath("../x") == "../x");
  CHECK(NormalizePath("") == ".");
  CHECK(NormalizePath("/a/./b/..") == "/a");
  CHECK(ResolvePath("fns", "./src") == "fns/src");
  CHECK(ResolvePath("fns", "/abs") == "/abs");
  CHECK(ResolvePath("", "src") == "src");
}

}  // namespace
}  // namespace gantry::spec
