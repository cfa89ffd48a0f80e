// The gantry CLI against a real gantryd (CTest label "integration"): the binary is run as a
// user or a CI job runs it, with GANTRY_URL/GANTRY_TOKEN, no terminal, and its exit code,
// stdout and stderr checked.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "gantryd_support.h"
#include "run_program.h"
#include "support/engine.h"

namespace gantry::testing {
namespace {

// Runs `program args...` with `env` added, `input` on stdin, the CLI's directory on PATH.
Run Program(const std::string& program, const std::vector<std::string>& args,
            const std::vector<std::string>& env, const std::string& input = "") {
  std::string bin_dir = fs::path(GANTRY_BINARY).parent_path().string();
  return RunProgram(program, args, env,
                    {.input = input, .path = bin_dir + ":/usr/bin:/bin", .timeout_ms = 180'000});
}

Run Gantry(const std::vector<std::string>& args, const std::vector<std::string>& env,
           const std::string& input = "") {
  return Program(GANTRY_BINARY, args, env, input);
}

// A function directory in a namespace of the test's own.
struct Project {
  fs::path dir;
  explicit Project(const TestEngine& engine, const std::string& state)
      : dir(fs::path(state) / "project") {
    fs::create_directories(dir / "src");
    std::ofstream(dir / "gantry.yaml")
        << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: greet\n"
        << "  namespace: " << engine.value() << "\nspec:\n  runtime: exec\n"
        << "  command: [\"sh\", \"greet.sh\"]\n  source: ./src\n  scale: {min: 1}\n";
    Write("echo \"hello v1: $(cat)\"; echo \"greet called\" >&2\n");
  }
  void Write(const std::string& script) const { std::ofstream(dir / "src/greet.sh") << script; }
  std::string manifest() const { return (dir / "gantry.yaml").string(); }
};

TEST_CASE("gantry CLI: apply, unchanged, configured, get, describe, invoke, logs, delete",
          "[integration][cli]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  INFO(gantryd.Log());
  std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=" + gantryd.token()};
  std::string ns = engine.value();
  Project project(engine, state.path().string());

  Run created = Gantry({"apply", "-f", project.manifest(), "--wait", "--timeout", "2m"}, env);
  INFO(created.err);
  CHECK(created.exit_code == 0);
  CHECK(created.out == "function.gantry.dev/greet created\nfunction.gantry.dev/greet ready\n");
  std::set<std::string> replicas = ContainersOf(engine, "greet");
  CHECK(replicas.size() == 1);

  Run again = Gantry({"apply", "-f", project.manifest()}, env);
  CHECK(again.exit_code == 0);
  CHECK(again.out == "function.gantry.dev/greet unchanged\n");
  CHECK(ContainersOf(engine, "greet") == replicas);  // nothing restarted

  Run invoked = Gantry({"invoke", "greet", "-n", ns, "-d", "Ada"}, env);
  CHECK(invoked.exit_code == 0);
  CHECK(invoked.out == "hello v1: Ada\n");
  Run piped = Gantry({"invoke", "greet", "-n", ns}, env, "from stdin");
  CHECK(piped.out == "hello v1: from stdin\n");

  project.Write("echo \"hello v2: $(cat)\"\n");
  Run configured = Gantry({"apply", "-f", project.manifest(), "--wait"}, env);
  CHECK(configured.exit_code == 0);
  CHECK(configured.out ==
        "function.gantry.dev/greet configured\nfunction.gantry.dev/greet ready\n");
  CHECK(Gantry({"invoke", "greet", "-n", ns, "-d", "Bo"}, env).out == "hello v2: Bo\n");

  Run got = Gantry({"get", "functions", "-n", ns, "-o", "json"}, env);
  CHECK(got.exit_code == 0);
  auto list = nlohmann::json::parse(got.out, nullptr, false);
  REQUIRE(list.is_object());
  REQUIRE(list["items"].size() == 1);
  CHECK(list["items"][0]["metadata"]["name"] == "greet");
  CHECK(list["items"][0]["status"]["generation"] == 2);
  Run table = Gantry({"get", "functions", "-n", ns}, env);
  // NAME READY STATUS REPLICAS AGE (issue 13: the runtime is in the spec, -o json/yaml).
  CHECK_THAT(table.out,
             Catch::StartsWith("NAME") && Catch::Contains("greet") && Catch::Contains("Ready"));
  Run described = Gantry({"describe", "function", "greet", "-n", ns, "-o", "json"}, env);
  auto d = nlohmann::json::parse(described.out, nullptr, false);
  REQUIRE(d.is_object());
  CHECK(d["spec"]["command"] == nlohmann::json{"sh", "greet.sh"});
  CHECK(d["status"]["readyReplicas"] == 1);
  CHECK_THAT(Gantry({"describe", "function", "greet", "-n", ns}, env).out,
             Catch::Contains("Generation:   2"));

  // The first version wrote to stderr on each call; its replica is gone, the second's is
  // here: call it again and read the log.
  project.Write("echo \"hello v3\"; echo \"log line from greet\" >&2\n");
  REQUIRE(Gantry({"apply", "-f", project.manifest(), "--wait"}, env).exit_code == 0);
  REQUIRE(Gantry({"invoke", "greet", "-n", ns}, env).exit_code == 0);
  Run logs;
  for (int i = 0; i < 20; ++i) {
    logs = Gantry({"logs", "greet", "-n", ns}, env);
    if (logs.out.find("log line from greet") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  CHECK(logs.exit_code == 0);
  CHECK_THAT(logs.out, Catch::Contains("log line from greet"));

  Run queued = Gantry({"invoke", "greet", "-n", ns, "--async", "-d", "later"}, env);
  CHECK(queued.exit_code == 0);
  CHECK_THAT(queued.out,
             Catch::Matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n"));

  Run version = Gantry({"version"}, env);
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out,
             Catch::StartsWith("Client: gantry ") && Catch::Contains("Server: gantryd "));

  Run deleted = Gantry({"delete", "function", "greet", "-n", ns}, env);
  CHECK(deleted.exit_code == 0);
  CHECK(deleted.out == "function.gantry.dev/greet deleted\n");
  CHECK(ContainersOf(engine, "greet").empty());
}

TEST_CASE("gantry CLI: apply -f DIR skips a function's own JSON and YAML, -f - reads stdin",
          "[integration][cli]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  INFO(gantryd.Log());
  std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=" + gantryd.token()};
  std::string ns = engine.value();
  Project project(engine, state.path().string());
  // What sits beside a manifest in a real project: the function's package.json, editor and
  // CI configuration. None of it is a manifest.
  std::ofstream(project.dir / "package.json") << "{\"name\": \"greet\", \"version\": \"1.0.0\"}\n";
  std::ofstream(project.dir / "src/package.json") << "{\"name\": \"greet-src\"}\n";
  std::ofstream(project.dir / "tsconfig.json") << "{\"compilerOptions\": {}}\n";
  std::ofstream(project.dir / "docker-compose.yml") << "services: {db: {image: postgres}}\n";

  Run dir = Gantry({"apply", "-f", project.dir.string(), "-R"}, env);
  INFO(dir.out << dir.err);
  CHECK(dir.exit_code == 0);
  CHECK(dir.out == "function.gantry.dev/greet created\n");
  Run validated = Gantry({"validate", "-f", project.dir.string()}, env);
  CHECK(validated.exit_code == 0);

  REQUIRE(Gantry({"create", "secret", "tok", "-n", ns, "--from-literal", "t0"}, env).exit_code ==
          0);
  std::string piped =
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: greet-stdin\n"
      "  namespace: " +
      ns +
      "\nspec:\n  runtime: exec\n  command: [\"sh\", \"greet.sh\"]\n"
      "  source: " +
      (project.dir / "src").string() + "\n  secrets: [tok]\n";
  Run from_stdin = Gantry({"apply", "-f", "-"}, env, piped);
  INFO(from_stdin.out << from_stdin.err);
  CHECK(from_stdin.exit_code == 0);
  CHECK(from_stdin.out == "function.gantry.dev/greet-stdin created\n");
  Run invoked = Gantry({"invoke", "greet-stdin", "-n", ns, "-d", "Ada"}, env);
  CHECK(invoked.out == "hello v1: Ada\n");

  // A secret in use is not deleted; the error names who uses it.
  Run refused = Gantry({"delete", "secret", "tok", "-n", ns}, env);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("greet-stdin"));
  Run deleted = Gantry({"delete", "-f", "-"}, env, piped);
  CHECK(deleted.exit_code == 0);
  CHECK(deleted.out == "function.gantry.dev/greet-stdin deleted\n");
  Run secret_deleted = Gantry({"delete", "secret", "tok", "-n", ns}, env);
  CHECK(secret_deleted.exit_code == 0);
  CHECK(secret_deleted.out == "secret.gantry.dev/tok deleted\n");
  CHECK(Gantry({"delete", "function", "greet", "-n", ns}, env).exit_code == 0);
}

TEST_CASE("gantry CLI: every bad path is a one-line error and the right exit code",
          "[integration][cli]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=" + gantryd.token()};
  std::string ns = engine.value();
  auto one_line = [](const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; };

  Run unknown = Gantry({"invoke", "nope", "-n", ns}, env);
  CHECK(unknown.exit_code == 1);
  CHECK(one_line(unknown.err));
  CHECK_THAT(unknown.err, Catch::Contains("404"));

  fs::path bad = state.path() / "bad.yaml";
  std::ofstream(bad)
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: x}\nspec:\n  runtime: exec\n"
         "  comand: [cat]\n";
  Run invalid = Gantry({"apply", "-f", bad.string()}, env);
  CHECK(invalid.exit_code == 1);
  CHECK_THAT(invalid.err,
             Catch::Contains("bad.yaml:6:3: spec.comand") && Catch::Contains("nothing applied"));

  Run unreachable =
      Gantry({"get", "functions", "--server", "http://127.0.0.1:1"}, {"GANTRY_TOKEN=x"});
  CHECK(unreachable.exit_code == 1);
  CHECK(one_line(unreachable.err));
  CHECK_THAT(unreachable.err, Catch::Contains("cannot reach gantryd at http://127.0.0.1:1"));

  Run bad_token =
      Gantry({"get", "functions"}, {"GANTRY_URL=" + gantryd.url(), "GANTRY_TOKEN=wrong"});
  CHECK(bad_token.exit_code == 1);
  CHECK(one_line(bad_token.err));

  fs::path elsewhere = state.path() / "elsewhere.yaml";
  std::ofstream(elsewhere)
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata: {name: x, namespace: team}\n"
         "spec: {runtime: exec, command: [cat]}\n";
  Run wrong_ns = Gantry({"apply", "-f", elsewhere.string(), "-n", ns}, env);
  CHECK(wrong_ns.exit_code == 1);
  CHECK_THAT(wrong_ns.err, Catch::Contains("metadata.namespace: is \"team\", but -n asks for"));

  Run usage = Gantry({"apply"}, env);
  CHECK(usage.exit_code == 2);
  CHECK(Gantry({"frobnicate"}, env).exit_code == 2);

  fs::path broken_dir = state.path() / "broken";
  fs::create_directories(broken_dir / "src");
  std::ofstream(broken_dir / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: broken\n"
      << "  namespace: " << ns << "\nspec:\n  runtime: dockerfile\n  source: ./src\n";
  std::ofstream(broken_dir / "src/Dockerfile")
      << "FROM gantry/base:bookworm\nRUN echo compiling && exit 4\n";
  Run build_failure = Gantry(
      {"apply", "-f", (broken_dir / "gantry.yaml").string(), "--wait", "--timeout", "1m"}, env);
  CHECK(build_failure.exit_code == 1);
  CHECK_THAT(build_failure.err, Catch::StartsWith("gantry apply: function.gantry.dev/broken: ") &&
                                    Catch::Contains("RUN echo compiling && exit 4") &&
                                    Catch::Contains("returned a non-zero code: 4"));
}

TEST_CASE("gantry CLI: login remembers the server, flags and env win over the file",
          "[integration][cli]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  std::string config = (state.path() / "home/gantry/config.yaml").string();
  std::vector<std::string> env = {"GANTRY_CONFIG=" + config};

  Run refused = Gantry({"login", "--server", gantryd.url(), "--token", "wrong"}, env);
  CHECK(refused.exit_code == 1);
  CHECK_FALSE(fs::exists(config));

  fs::path token_file = state.path() / "token";
  Run login =
      Gantry({"login", "--server", gantryd.url(), "--token-file", token_file.string()}, env);
  INFO(login.err);
  REQUIRE(login.exit_code == 0);
  CHECK(fs::status(config).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  // No URL or token given: the config file's are used.
  Run listed = Gantry({"get", "functions", "-A", "-o", "yaml"}, env);
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.out, Catch::StartsWith("apiVersion: gantry.dev/v1\n") &&
                             Catch::Contains("kind: FunctionList"));
  // A flag wins over the file, and so does the environment.
  CHECK(Gantry({"get", "functions", "--server", "http://127.0.0.1:1"}, env).exit_code == 1);
  std::vector<std::string> with_env = env;
  with_env.push_back("GANTRY_TOKEN=wrong");
  CHECK(Gantry({"get", "functions"}, with_env).exit_code == 1);

  Run completion = Gantry({"completion", "bash"}, env);
  CHECK(completion.exit_code == 0);
  CHECK_THAT(completion.out, Catch::Contains("complete -F _gantry gantry"));
}

TEST_CASE(
    "gantry CLI: the CI examples pass on good functions and fail the pipeline on a broken one",
    "[integration][cli]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  INFO(gantryd.Log());
  std::string ns = engine.value();
  fs::path good = state.path() / "good";
  fs::create_directories(good);
  // The example with its dependency (requirements.txt, the vendored wheel), under a manifest
  // of this test's own namespace.
  fs::copy(fs::path(GANTRY_SOURCE_DIR) / "examples/hello-python", good / "hello",
           fs::copy_options::recursive);
  std::ofstream(good / "hello/gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n"
      << "  name: hello-python\n  namespace: " << ns << "\nspec:\n"
      << "  runtime: python3\n  handler: handler.main\n  source: .\n";
  fs::path broken = state.path() / "broken";
  fs::create_directories(broken / "web");
  std::ofstream(broken / "web/gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: web\n"
      << "  namespace: " << ns << "\nspec:\n  runtime: dockerfile\n  source: .\n";
  std::ofstream(broken / "web/Dockerfile") << "FROM gantry/base:bookworm\nRUN exit 9\n";
  std::string check = std::string(GANTRY_SOURCE_DIR) + "/examples/ci/check-locally";
  for (const char* ci : {"github", "gitlab"}) {
    INFO(ci);
    std::vector<std::string> env = {"GANTRY_URL=" + gantryd.url(),
                                    "GANTRY_TOKEN=" + gantryd.token(), "NAMESPACE=" + ns,
                                    "SMOKE_FUNCTION=hello-python"};
    std::vector<std::string> good_env = env;
    good_env.push_back("FUNCTIONS=" + good.string());
    Run passed = Program(check, {ci}, good_env);
    INFO(passed.out << passed.err);
    CHECK(passed.exit_code == 0);
    CHECK_THAT(passed.out, Catch::Contains("gantry invoke") && Catch::Contains("hello, ping!") &&
                               Catch::Contains("all 3 steps"));
    std::vector<std::string> broken_env = env;
    broken_env.push_back("FUNCTIONS=" + broken.string());
    Run failed = Program(check, {ci}, broken_env);
    INFO(failed.out << failed.err);
    CHECK(failed.exit_code == 1);
    CHECK_THAT(failed.err,
               Catch::Contains("RUN exit 9") && Catch::Contains("step failed: gantry apply"));
    CHECK_THAT(failed.out, !Catch::Contains("+ gantry invoke"));  // the pipeline stopped there
  }
}

}  // namespace
}  // namespace gantry::testing
