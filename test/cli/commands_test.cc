// The verbs against a fake gantryd: what each asks for, what it prints, its exit code.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "cli/client_config.h"

namespace gantry::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;
using testing::TempDir;

http::Response Json(long status, const json& j) {
  return {.status = status, .body = j.dump()};
}

json Function(const std::string& ns, const std::string& name, int ready, int starting) {
  return {{"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"runtime", "python3"}}},
          {"status",
           {{"phase", "ready"},
            {"readyReplicas", ready},
            {"startingReplicas", starting},
            {"generation", 3},
            {"image", "gantry/fn-" + name + ":3"}}}};
}

TEST_CASE("cli get: the path for each kind and scope", "[cli][get]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) { return Json(200, {{"items", json::array()}}); };
  CHECK(RunGantry(fake, {"get", "functions"}).exit_code == 0);
  CHECK(RunGantry(fake, {"get", "fn", "-n", "team"}).exit_code == 0);
  CHECK(RunGantry(fake, {"get", "functions", "-A"}).exit_code == 0);
  CHECK(RunGantry(fake, {"get", "function", "echo", "-n", "team"}).exit_code == 0);
  CHECK(RunGantry(fake, {"get", "secrets", "-n", "team"}).exit_code == 0);
  REQUIRE(fake.requests.size() == 5);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/default/functions");
  CHECK(fake.Target(1) == "/apis/gantry/v1/namespaces/team/functions");
  CHECK(fake.Target(2) == "/apis/gantry/v1/functions");
  CHECK(fake.Target(3) == "/apis/gantry/v1/namespaces/team/functions/echo");
  CHECK(fake.Target(4) == "/apis/gantry/v1/namespaces/team/secrets");
  for (const auto& r : fake.requests) CHECK(r.method == "GET");

  auto unknown = RunGantry(fake, {"get", "pods"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err ==
        "gantry get: unknown kind \"pods\" (functions, secrets, invocations, triggers, topics or "
        "deadletters)\n");
  CHECK(fake.requests.size() == 5);
}

TEST_CASE("cli get: tables, -o name, -o json and -o yaml", "[cli][get]") {
  FakeGantryd fake;
  json list = {
      {"apiVersion", "gantry.dev/v1"},
      {"kind", "FunctionList"},
      {"items",
       {Function("default", "echo", 1, 1), Function("team", "a-very-long-function-name", 0, 0)}}};
  for (auto& item : list["items"]) item["metadata"]["creationTimestamp"] = "2025-12-31T23:57:00Z";
  fake.handler = [&list](const http::Request&) { return Json(200, list); };

  core::ManualClock clock;  // 2026-01-01T00:00:00Z: created 3m ago
  CHECK(RunGantry(fake, {"get", "functions"}, {}, &clock).out ==
        "NAME                     READY   STATUS        REPLICAS  AGE\n"
        "echo                     1/2     ready         2         3m\n"
        "a-very-long-function-name 0/0     ready         0         3m\n");
  CHECK(RunGantry(fake, {"get", "functions", "-A", "-o", "wide"}, {}, &clock).out ==
        "NAMESPACE        NAME                     READY   STATUS        REPLICAS  AGE    IMAGE"
        "                                    GENERATION  REASON\n"
        "default          echo                     1/2     ready         2         3m     "
        "gantry/fn-echo:3                         3           \n"
        "team             a-very-long-function-name 0/0     ready         0         3m     "
        "gantry/fn-a-very-long-function-name:3    3           \n");
  CHECK(RunGantry(fake, {"get", "functions", "-o", "name"}).out ==
        "function.gantry.dev/echo\nfunction.gantry.dev/a-very-long-function-name\n");
  CHECK(json::parse(RunGantry(fake, {"get", "functions", "-o", "json"}).out) == list);
  auto yaml = RunGantry(fake, {"get", "functions", "-o", "yaml"});
  CHECK_THAT(yaml.out, Catch::StartsWith("apiVersion: gantry.dev/v1\n") &&
                           Catch::Contains("kind: FunctionList\n"));
  CHECK(RunGantry(fake, {"get", "functions", "-o", "table"}).exit_code == 2);

  json secrets = {{"items",
                   {{{"name", "db"},
                     {"createdAt", "2026-11-28T09:30:00Z"},
                     {"updatedAt", "2026-12-01T10:00:00Z"}}}}};
  fake.handler = [&secrets](const http::Request&) { return Json(200, secrets); };
  std::chrono::sys_seconds wall{std::chrono::seconds(1796123031)};  // 2026-12-01T11:03:51Z
  CHECK(RunGantry(fake, {"get", "secrets"}, {}, nullptr, wall).out ==
        "NAME                           UPDATED              AGE\n"
        "db                             2026-12-01T10:00:00Z 3d1h\n");
  CHECK(RunGantry(fake, {"get", "secrets", "-o", "name"}).out == "secret.gantry.dev/db\n");
}

TEST_CASE("cli: errors from gantryd and from the transport are one line, exit 1", "[cli]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) {
    return Json(404, {{"error", "function default/x not found"}});
  };
  auto missing = RunGantry(fake, {"describe", "function", "x"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "gantry describe: function default/x not found\n");

  fake.handler = [](const http::Request&) {
    return http::Response{.error = "Couldn't connect to server"};
  };
  auto down = RunGantry(fake, {"get", "functions"});
  CHECK(down.exit_code == 1);
  CHECK(down.err ==
        "gantry get: cannot reach gantryd at http://gantryd.test: Couldn't connect to server\n");
}

TEST_CASE("cli: the token goes as a bearer token, except to invoke", "[cli]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) { return Json(200, {{"items", json::array()}}); };
  CHECK(RunGantry(fake, {"get", "functions", "--token", "s3cret"}).exit_code == 0);
  CHECK(RunGantry(fake, {"invoke", "echo", "--token", "s3cret", "-d", "x"}).exit_code == 0);
  REQUIRE(fake.requests.size() == 2);
  CHECK(fake.Header(0, "Authorization") == "Bearer s3cret");
  CHECK(fake.Header(1, "Authorization").empty());
  CHECK(fake.requests[0].timeout == std::chrono::seconds(600));
  CHECK(fake.requests[0].allow_https);
  CHECK_FALSE(fake.requests[0].address_filter);
}

TEST_CASE("cli describe: the summary, the replica table, -o json|yaml", "[cli][describe]") {
  FakeGantryd fake;
  json d = Function("default", "echo", 1, 0);
  d["status"]["createdAt"] = "2026-12-01T10:00:00Z";
  d["status"]["replicas"] = {{{"id", "r-abc"},
                              {"generation", 3},
                              {"state", "ready"},
                              {"inFlight", 2},
                              {"startedAt", "2026-12-01T10:00:01Z"}}};
  fake.handler = [&d](const http::Request&) { return Json(200, d); };
  auto run = RunGantry(fake, {"describe", "fn", "echo"});
  CHECK(run.exit_code == 0);
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/default/functions/echo");
  CHECK_THAT(run.out, Catch::StartsWith("Name:         echo\nNamespace:    default\n"));
  CHECK_THAT(run.out,
             Catch::Contains("Replicas:     1 ready, 0 starting, 0 in flight, 0 queued\n"));
  CHECK_THAT(run.out, Catch::Contains("Last call:    never\n"));
  CHECK_THAT(run.out,
             Catch::EndsWith("Spec:\n  runtime: python3\nReplica list:\n"
                             "  ID             GEN  STATE     INFLIGHT  STARTED\n"
                             "  r-abc          3    ready     2         2026-12-01T10:00:01Z\n"));
  CHECK(json::parse(RunGantry(fake, {"describe", "function", "echo", "-o", "json"}).out) == d);
  CHECK_THAT(RunGantry(fake, {"describe", "function", "echo", "-o", "yaml"}).out,
             Catch::StartsWith("metadata:\n  name: echo\n"));
  CHECK(RunGantry(fake, {"describe", "secret", "x"}).exit_code == 2);
}

TEST_CASE("cli describe: an answer without status, spec or metadata still prints",
          "[cli][describe]") {
  FakeGantryd fake;
  json d = {{"kind", "Function"}, {"status", {{"replicas", {1, "x"}}, {"events", "none"}}}};
  fake.handler = [&d](const http::Request&) { return Json(200, d); };
  auto run = RunGantry(fake, {"describe", "fn", "echo"});
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::StartsWith("Name:         \nNamespace:    \n"));
  CHECK_THAT(run.out, Catch::Contains("Last call:    never\n"));
  CHECK_THAT(run.out, Catch::Contains("Replica list:\n"));
}

TEST_CASE("cli describe: the keep-alive in force, for an adaptive function only",
          "[cli][describe]") {
  FakeGantryd fake;
  json d = Function("default", "echo", 1, 0);
  d["status"]["replicas"] = json::array();
  d["status"]["lastInvocation"] = nullptr;
  fake.handler = [&d](const http::Request&) { return Json(200, d); };
  CHECK_THAT(RunGantry(fake, {"describe", "fn", "echo"}).out, !Catch::Contains("Keep-alive:"));
  d["status"]["keepAlive"] = "adaptive: prewarm 54s, keep 1m7s (36 samples)";
  CHECK_THAT(RunGantry(fake, {"describe", "fn", "echo"}).out,
             Catch::Contains("0 queued\nKeep-alive:   adaptive: prewarm 54s, keep 1m7s (36 "
                             "samples)\nCreated:"));
}

TEST_CASE("cli get and describe: paused replicas are said where replicas are counted",
          "[cli][get][describe]") {
  FakeGantryd fake;
  json d = Function("default", "echo", 2, 0);
  d["metadata"]["creationTimestamp"] = "2025-12-31T23:57:00Z";
  d["status"]["pausedReplicas"] = 1;
  d["status"]["replicas"] = {{{"id", "r-abc"},
                              {"generation", 3},
                              {"state", "paused"},
                              {"inFlight", 0},
                              {"startedAt", "2026-12-01T10:00:01Z"}},
                             {{"id", "r-def"},
                              {"generation", 3},
                              {"state", "ready"},
                              {"inFlight", 1},
                              {"startedAt", "2026-12-01T10:00:02Z"}}};
  json list = {{"kind", "FunctionList"}, {"items", {d}}};
  fake.handler = [&](const http::Request& r) {
    return Json(200, r.url.find("/functions/echo") != std::string::npos ? d : list);
  };
  core::ManualClock clock;  // 2026-01-01T00:00:00Z: created 3m ago
  CHECK(RunGantry(fake, {"get", "functions"}, {}, &clock).out ==
        "NAME                     READY   STATUS        REPLICAS  AGE\n"
        "echo                     2/2     ready         2 (1 paused) 3m\n");
  auto run = RunGantry(fake, {"describe", "fn", "echo"});
  CHECK_THAT(run.out, Catch::Contains(
                          "Replicas:     2 ready (1 paused), 0 starting, 0 in flight, 0 queued\n"));
  CHECK_THAT(run.out,
             Catch::Contains("  r-abc          3    paused    0         2026-12-01T10:00:01Z\n"));
}

TEST_CASE("cli delete: function, secret, manifests, anything else is a usage error",
          "[cli][delete]") {
  FakeGantryd fake;
  CHECK(RunGantry(fake, {"delete", "function", "echo", "-n", "team"}).out ==
        "function.gantry.dev/echo deleted\n");
  CHECK(RunGantry(fake, {"delete", "secret", "db"}).out == "secret.gantry.dev/db deleted\n");
  TempDir dir;
  dir.Write("src/run.sh", "cat\n");
  std::string manifest = dir.Write(
      "gantry.yaml",
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: one\nspec:\n  runtime: exec\n"
      "  command: [\"sh\", \"run.sh\"]\n  source: ./src\n---\n"
      "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: two\n  namespace: other\n"
      "spec:\n  runtime: exec\n  command: [\"sh\", \"run.sh\"]\n  source: ./src\n");
  auto from_files = RunGantry(fake, {"delete", "-f", manifest});
  INFO(from_files.err);
  CHECK(from_files.exit_code == 0);
  REQUIRE(fake.requests.size() == 4);
  for (const auto& r : fake.requests) CHECK(r.method == "DELETE");
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/team/functions/echo");
  CHECK(fake.Target(1) == "/apis/gantry/v1/namespaces/default/secrets/db");
  CHECK(fake.Target(2) == "/apis/gantry/v1/namespaces/default/functions/one");
  CHECK(fake.Target(3) == "/apis/gantry/v1/namespaces/other/functions/two");

  auto usage = RunGantry(fake, {"delete", "function"});
  CHECK(usage.exit_code == 2);
  CHECK_THAT(
      usage.err,
      Catch::Contains("expected `function NAME`, `secret NAME`, `topic-token TOPIC` or `-f FILE`"));

  // -n must agree with the manifests'.
  auto disagree = RunGantry(fake, {"delete", "-f", manifest, "-n", "team"});
  CHECK(disagree.exit_code == 1);
  CHECK_THAT(disagree.err,
             Catch::Contains("metadata.namespace: is \"other\", but -n asks for \"team\""));
  CHECK(fake.requests.size() == 4);

  fake.handler = [](const http::Request&) {
    return Json(409, {{"error", "used by default/echo"}});
  };
  auto in_use = RunGantry(fake, {"delete", "secret", "db"});
  CHECK(in_use.exit_code == 1);
  CHECK(in_use.err == "gantry delete: secret.gantry.dev/db: used by default/echo\n");
}

TEST_CASE("cli invoke: method, body, headers, -i and --async", "[cli][invoke]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.url.find("/async-function/") != std::string::npos) {
      return Json(202, {{"callId", "call-1"}});
    }
    return http::Response{
        .status = 200, .body = "hello", .headers = {{"content-type", "text/plain"}}};
  };
  auto get = RunGantry(fake, {"invoke", "echo", "-d", "", "-X", "GET"});
  CHECK(get.out == "hello");
  auto post =
      RunGantry(fake, {"invoke", "echo", "-n", "team", "-d", "hi", "-H", "X-Trace:  t1", "-i"});
  CHECK(post.exit_code == 0);
  CHECK(post.out == "HTTP 200\ncontent-type: text/plain\n\nhello");
  TempDir dir;
  std::string file = dir.Write("body.bin", std::string("a\0b", 3));
  CHECK(RunGantry(fake, {"invoke", "echo", "-d", "@" + file}).exit_code == 0);
  auto async =
      RunGantry(fake, {"invoke", "echo", "--async", "--callback", "http://hook/x", "-d", "q"});
  CHECK(async.out == "call-1\n");
  REQUIRE(fake.requests.size() == 4);
  CHECK(fake.requests[0].method == "GET");
  CHECK(fake.Target(0) == "/function/echo.default");
  CHECK(fake.requests[1].method == "POST");
  CHECK(fake.Target(1) == "/function/echo.team");
  CHECK(fake.requests[1].body == "hi");
  CHECK(fake.Header(1, "X-Trace") == "t1");
  CHECK(fake.Header(1, "Content-Type") == "application/octet-stream");
  CHECK(fake.requests[2].body == std::string("a\0b", 3));
  CHECK(fake.Target(3) == "/async-function/echo.default");
  CHECK(fake.Header(3, "X-Callback-Url") == "http://hook/x");

  auto bad_header = RunGantry(fake, {"invoke", "echo", "-d", "x", "-H", "no-colon"});
  CHECK(bad_header.exit_code == 2);
  CHECK(bad_header.err == "gantry invoke: -H no-colon: expected \"Name: value\"\n");
  CHECK(RunGantry(fake, {"invoke", "echo", "-d", "@/nonexistent/file"}).exit_code == 1);
  CHECK(fake.requests.size() == 4);

  fake.handler = [](const http::Request&) { return Json(502, {{"error", "function crashed"}}); };
  auto failed = RunGantry(fake, {"invoke", "echo", "-d", "x"});
  CHECK(failed.exit_code == 1);
  CHECK(failed.err == "gantry invoke: echo: HTTP 502: function crashed\n");
}

TEST_CASE("cli scale and create secret: the JSON they send", "[cli][scale][secret]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    return Json(200, r.url.find("/secrets/") != std::string::npos ? json{{"result", "configured"}}
                                                                  : json::object());
  };
  CHECK(RunGantry(fake, {"scale", "function", "echo", "--replicas", "3"}).out ==
        "function.gantry.dev/echo scaled to 3\n");
  CHECK(RunGantry(fake, {"scale", "function", "echo", "--replicas", "-1"}).exit_code == 2);
  CHECK(RunGantry(fake, {"create", "secret", "db", "-n", "team", "--from-literal", "PASSWORD=a=b"})
            .out == "secret.gantry.dev/db configured\n");
  TempDir dir;
  std::string file = dir.Write("value", "from\nfile");
  CHECK(RunGantry(fake, {"create", "secret", "cert", "--from-file", file}).exit_code == 0);
  auto neither = RunGantry(fake, {"create", "secret", "x"});
  CHECK(neither.exit_code == 2);
  CHECK(neither.err == "gantry create secret: give --from-literal or --from-file\n");
  REQUIRE(fake.requests.size() == 3);
  CHECK(fake.requests[0].method == "PUT");
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/default/functions/echo/scale");
  CHECK(json::parse(fake.requests[0].body) == json{{"replicas", 3}});
  CHECK(fake.Header(0, "Content-Type") == "application/json");
  CHECK(fake.Target(1) == "/apis/gantry/v1/namespaces/team/secrets/db");
  CHECK(json::parse(fake.requests[1].body) == json{{"value", "a=b"}});
  CHECK(json::parse(fake.requests[2].body) == json{{"value", "from\nfile"}});
}

TEST_CASE("cli login: checks the token with a management call, then saves the file",
          "[cli][login]") {
  TempDir dir;
  std::string config = (dir.path() / "home/gantry/config.yaml").string();
  std::map<std::string, std::string> env = {{"GANTRY_CONFIG", config}};
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    bool good = std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer good") !=
                r.headers.end();
    return good ? Json(200, {{"items", json::array()}}) : Json(401, {{"error", "bad token"}});
  };
  auto refused = RunGantry(fake, {"login", "--server", "http://g:1", "--token", "wrong"}, env);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err == "gantry login: bad token\n");
  CHECK_FALSE(fs::exists(config));

  std::string token_file = dir.Write("token", "good\n");
  auto login =
      RunGantry(fake, {"login", "--server", "http://g:1/", "--token-file", token_file}, env);
  CHECK(login.exit_code == 0);
  CHECK(login.out == "logged in to http://g:1 (saved in " + config + ")\n");
  CHECK(fake.requests.back().url == "http://g:1/apis/gantry/v1/functions");
  ClientConfig saved = ReadConfigFile(config);
  CHECK(saved.server == "http://g:1");
  CHECK(saved.token == "good");

  // Then every verb uses the file's server and token.
  fake.requests.clear();
  CHECK(RunGantry(fake, {"get", "functions", "--server", "http://g:1"}, env).exit_code == 0);
  CHECK(fake.Header(0, "Authorization") == "Bearer good");

  CHECK(RunGantry(fake,
                  {"login", "--server", "http://g:1", "--token", "a", "--token-file", token_file},
                  env)
            .exit_code == 2);
}

TEST_CASE("cli version and completion", "[cli]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) {
    return Json(200,
                {{"version", "9.9"}, {"engine", {{"version", "27.0"}, {"apiVersion", "1.46"}}}});
  };
  auto version = RunGantry(fake, {"version"});
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, Catch::StartsWith("Client: gantry ") &&
                              Catch::EndsWith("Server: gantryd 9.9 (engine 27.0, API 1.46)\n"));
  auto as_json = json::parse(RunGantry(fake, {"version", "-o", "json"}).out);
  CHECK(as_json["server"]["version"] == "9.9");
  CHECK(as_json["client"].contains("version"));

  auto bash = RunGantry(fake, {"completion", "bash"});
  CHECK_THAT(bash.out, Catch::StartsWith("# gantry bash completion") &&
                           Catch::Contains("complete -F _gantry gantry"));
  CHECK_THAT(RunGantry(fake, {"completion", "zsh"}).out,
             Catch::Contains("bashcompinit\n# gantry bash completion"));
  CHECK(RunGantry(fake, {"completion", "fish"}).exit_code == 2);
}

}  // namespace
}  // namespace gantry::cli
