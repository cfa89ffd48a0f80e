// The OpenFaaS management API (/system/...), one handler at a time, without a socket: the
// request as the gateway hands it over, the controller over fakes (controller_harness.h),
// and the answer as the gateway would send it (gateway::ToApiResponse).
#include "daemon/openfaas_api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/version.h"
#include "daemon/controller_harness.h"
#include "daemon/deployment_codec.h"
#include "daemon/openfaas_functions.h"
#include "daemon/openfaas_logs.h"
#include "daemon/openfaas_names.h"
#include "daemon/openfaas_secrets.h"
#include "daemon/openfaas_system.h"
#include "gateway/error_mapping.h"

namespace gantry::daemon {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;
using testing::Harness;

ApiRequest Request(std::string body, std::map<std::string, std::string> query = {},
                   std::map<std::string, std::string> params = {}) {
  return ApiRequest{
      .query = std::move(query), .body = std::move(body), .params = std::move(params)};
}

struct Answer {
  int status;
  std::string content_type;
  json body;
};
Answer Send(core::Result<ApiResponse> result) {
  ApiResponse r = gateway::ToApiResponse(std::move(result));
  return {r.status, r.content_type, json::parse(r.body, nullptr, false)};
}

const char* kDeployment = R"({"service": "web.team", "image": "example/web:1",
  "envProcess": "python3 index.py", "envVars": {"A": "1"},
  "labels": {"com.openfaas.scale.min": "1", "com.openfaas.scale.max": "3", "tier": "front"},
  "annotations": {"topic": "orders", "note": "free text: spaces, = and / are fine"},
  "limits": {"memory": "128Mi"}})";

TEST_CASE("OpenFaaS names: name.namespace, then the namespace given, then default", "[daemon]") {
  using openfaas::NameAndNamespace;
  CHECK(NameAndNamespace("web", "") == std::pair<std::string, std::string>{"web", "default"});
  CHECK(NameAndNamespace("web.team", "") == std::pair<std::string, std::string>{"web", "team"});
  CHECK(NameAndNamespace("web.team", "ops") == std::pair<std::string, std::string>{"web", "ops"});
  CHECK(NameAndNamespace("web", "ops") == std::pair<std::string, std::string>{"web", "ops"});
}

TEST_CASE("OpenFaaS: a FunctionDeployment is an image function with its scale and fprocess",
          "[daemon]") {
  auto spec = openfaas::SpecFromDeployment(json::parse(kDeployment));
  REQUIRE(spec.ok());
  CHECK(spec->name() == "web");
  CHECK(spec->namespace_name() == "team");
  auto missing = openfaas::SpecFromDeployment(json{{"image", "x"}});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(missing.error().message(), Catch::Contains("\"service\""));
  auto invalid = openfaas::SpecFromDeployment(json{{"service", "Bad_Name"}, {"image", "x"}});
  REQUIRE_FALSE(invalid.ok());
  CHECK_THAT(invalid.error().message(), Catch::Contains("invalid deployment"));
}

TEST_CASE("OpenFaaS: scaling labels, one replica by default, zero only when asked", "[daemon]") {
  auto deploy = [](json labels) {
    json d = {{"service", "s"}, {"image", "example/s:1"}};
    if (!labels.is_null()) d["labels"] = labels;
    auto spec = openfaas::SpecFromDeployment(d);
    REQUIRE(spec.ok());
    return *spec;
  };
  CHECK(deploy(nullptr).scale().min == 1);  // OpenFaaS's default: one replica
  CHECK(deploy({{"com.openfaas.scale.min", "3"}}).scale().min == 3);
  CHECK(deploy({{"com.openfaas.scale.max", "4"}}).scale().max == 4);
  auto zero = deploy({{"com.openfaas.scale.zero", "true"}});
  CHECK(zero.scale().min == 0);
  CHECK(zero.scale().idle_timeout == std::chrono::minutes(15));  // OpenFaaS's default
  auto quick = deploy({{"com.openfaas.scale.zero", "true"},
                       {"com.openfaas.scale.zero-duration", "2m"},
                       {"com.openfaas.scale.min", "2"}});
  CHECK(quick.scale().min == 0);
  CHECK(quick.scale().idle_timeout == std::chrono::minutes(2));
  CHECK(deploy({{"com.openfaas.scale.zero", "false"}}).scale().min == 1);
  // Replicas above the minimum go once the load has passed.
  CHECK(deploy(nullptr).scale().idle_timeout == std::chrono::seconds(30));
  // capacity: the target is in-flight calls per replica.
  CHECK(deploy({{"com.openfaas.scale.type", "capacity"}, {"com.openfaas.scale.target", "20"}})
            .concurrency() == 20);
  CHECK(deploy({{"com.openfaas.scale.type", "rps"}, {"com.openfaas.scale.target", "20"}})
            .concurrency() == 1);
}

TEST_CASE("OpenFaaS: scale.type rps (or a target alone) aims at calls per second", "[daemon]") {
  using Labels = std::map<std::string, std::string>;
  CHECK(TargetRps({}) == 0);
  CHECK(TargetRps(Labels{{"com.openfaas.scale.type", "rps"}}) == kOpenFaasDefaultTarget);
  CHECK(TargetRps(
            Labels{{"com.openfaas.scale.type", "rps"}, {"com.openfaas.scale.target", "20"}}) == 20);
  CHECK(TargetRps(Labels{{"com.openfaas.scale.target", "7"}}) == 7);  // rps is the default type
  CHECK(TargetRps(Labels{{"com.openfaas.scale.type", "capacity"},
                         {"com.openfaas.scale.target", "20"}}) == 0);
  CHECK(TargetRps(Labels{{"com.openfaas.scale.type", "cpu"}}) == 0);
}

TEST_CASE("OpenFaaS: readOnlyRootFilesystem as requested, writable by default", "[daemon]") {
  json d = {{"service", "s"}, {"image", "example/s:1"}};
  auto writable = openfaas::SpecFromDeployment(d);
  REQUIRE(writable.ok());
  CHECK_FALSE(writable->read_only_root());
  d["readOnlyRootFilesystem"] = true;
  auto read_only = openfaas::SpecFromDeployment(d);
  REQUIRE(read_only.ok());
  CHECK(read_only->read_only_root());
  d["readOnlyRootFilesystem"] = "yes";  // not a boolean: not asked for
  CHECK_FALSE(openfaas::SpecFromDeployment(d)->read_only_root());

  Harness h;
  REQUIRE(Send(openfaas::DeployFunction(*h.controller,
                                        Request(R"({"service": "w", "image": "example/w:1"})")))
              .status == 202);
  REQUIRE(Send(openfaas::DeployFunction(*h.controller,
                                        Request(R"({"service": "r", "image": "example/r:1",
                                              "readOnlyRootFilesystem": true})")))
              .status == 202);
  auto get = [&](const char* name) {
    return Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", name}}))).body;
  };
  CHECK(get("w")["readOnlyRootFilesystem"] == false);
  CHECK(get("r")["readOnlyRootFilesystem"] == true);
}

TEST_CASE("OpenFaaS: limits and requests echo as sent, memory below the floor is raised",
          "[daemon]") {
  const char* low = R"({"service": "tiny", "image": "example/tiny:1",
    "limits": {"memory": "5Mi", "cpu": "100m"}, "requests": {"memory": "1Mi"}})";
  auto spec = openfaas::SpecFromDeployment(json::parse(low));
  REQUIRE(spec.ok());
  CHECK(spec->resources().memory_bytes == std::int64_t{6} << 20);  // the engine's minimum
  CHECK(spec->resources().cpu_millis == 100);

  Harness h;
  REQUIRE(Send(openfaas::DeployFunction(*h.controller, Request(low))).status == 202);
  auto status = Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "tiny"}})));
  CHECK(status.body["limits"] == json{{"memory", "5Mi"}, {"cpu", "100m"}});
  CHECK(status.body["requests"] == json{{"memory", "1Mi"}});
  CHECK(status.body["annotations"] == json::object());  // the kept copy is not shown
  // The raise is said among the function's events.
  h.events->Flush();
  auto described = h.controller->Describe("default", "tiny");
  REQUIRE(described.ok());
  std::string events = (*described)["status"]["events"].dump();
  CHECK_THAT(events, Catch::Contains("MemoryRaised") && Catch::Contains("raised to 6Mi"));

  // Neither sent: neither returned.
  REQUIRE(Send(openfaas::DeployFunction(
                   *h.controller, Request(R"({"service": "bare", "image": "example/bare:1"})")))
              .status == 202);
  auto bare = Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "bare"}})));
  CHECK_FALSE(bare.body.contains("limits"));
  CHECK_FALSE(bare.body.contains("requests"));
}

TEST_CASE("OpenFaaS: deploy 202, update 200 or 404, status, scale 202 and delete", "[daemon]") {
  Harness h;
  auto update_unknown = Send(openfaas::UpdateFunction(*h.controller, Request(kDeployment)));
  CHECK(update_unknown.status == 404);
  CHECK_THAT(update_unknown.body["error"].get<std::string>(), Catch::Contains("not found"));

  auto deployed = Send(openfaas::DeployFunction(*h.controller, Request(kDeployment)));
  CHECK(deployed.status == 202);
  CHECK(deployed.body["result"] == "created");
  auto updated = Send(openfaas::UpdateFunction(*h.controller, Request(kDeployment)));
  CHECK(updated.status == 200);

  auto status = Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "web.team"}})));
  CHECK(status.status == 200);
  CHECK(status.body["name"] == "web");
  CHECK(status.body["namespace"] == "team");
  CHECK(status.body["envProcess"] == "python3 index.py");
  CHECK(status.body["envVars"] == json{{"A", "1"}});
  CHECK(status.body["limits"]["memory"] == "128Mi");
  CHECK(status.body["image"] == "example/web:1");  // as sent
  // Labels and annotations round trip (the scaling labels too), plus faas_function.
  CHECK(status.body["labels"] == json{{"com.openfaas.scale.min", "1"},
                                      {"com.openfaas.scale.max", "3"},
                                      {"tier", "front"},
                                      {"faas_function", "web"}});
  CHECK(status.body["annotations"] ==
        json{{"topic", "orders"}, {"note", "free text: spaces, = and / are fine"}});
  CHECK(status.body["replicas"] == 1);         // scale.min, none ready yet
  CHECK(status.body["invocationCount"] == 0);  // no counter set: none counted
  CHECK(status.body["createdAt"] == "2026-01-01T00:00:00Z");
  auto same = Send(openfaas::GetFunction(*h.controller,
                                         Request("", {{"namespace", "team"}}, {{"name", "web"}})));
  CHECK(same.body == status.body);
  CHECK(Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "web"}}))).status ==
        404);

  auto list = Send(openfaas::ListFunctions(*h.controller, Request("", {{"namespace", "team"}})));
  CHECK(list.status == 200);
  REQUIRE(list.body.size() == 1);
  CHECK(list.body[0] == status.body);
  CHECK(Send(openfaas::ListFunctions(*h.controller, Request(""))).body == json::array());

  auto scaled = Send(openfaas::ScaleFunction(
      *h.controller,
      Request(R"({"serviceName": "web", "replicas": 2})", {}, {{"name", "web.team"}})));
  CHECK(scaled.status == 202);
  CHECK(scaled.body == json{{"serviceName", "web"}, {"namespace", "team"}, {"replicas", 2}});
  auto beyond = Send(openfaas::ScaleFunction(
      *h.controller, Request(R"({"replicas": 7})", {}, {{"name", "web.team"}})));
  CHECK(beyond.status == 400);
  // To zero, below com.openfaas.scale.min, as OpenFaaS's idler does: held until a call.
  auto zero = Send(openfaas::ScaleFunction(
      *h.controller, Request(R"({"replicas": 0})", {}, {{"name", "web.team"}})));
  CHECK(zero.status == 202);
  h.pool->Flush();
  auto at_zero =
      Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "web.team"}})));
  CHECK(at_zero.body["replicas"] == 0);

  auto deleted =
      Send(openfaas::DeleteFunction(*h.controller, Request(R"({"functionName": "web.team"})")));
  CHECK(deleted.status == 200);
  CHECK(deleted.body == json{{"functionName", "web"}, {"namespace", "team"}});
  CHECK(Send(openfaas::DeleteFunction(*h.controller, Request(R"({"functionName": "web.team"})")))
            .status == 404);
}

TEST_CASE("OpenFaaS: a bare deployment has labels and annotations as objects, no envVars",
          "[daemon]") {
  Harness h;
  REQUIRE(Send(openfaas::DeployFunction(
                   *h.controller, Request(R"({"service": "bare", "image": "example/bare:1"})")))
              .status == 202);
  auto status = Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "bare"}})));
  REQUIRE(status.status == 200);
  CHECK(status.body["labels"] == json{{"faas_function", "bare"}});
  CHECK(status.body["annotations"] == json::object());
  CHECK_FALSE(status.body.contains("envVars"));
}

TEST_CASE("OpenFaaS: invocationCount is the gateway's count of the function's calls", "[daemon]") {
  Harness h;
  REQUIRE(Send(openfaas::DeployFunction(*h.controller, Request(kDeployment))).status == 202);
  h.controller->CountInvocationsWith([](const std::string& ns, const std::string& name) {
    return ns == "team" && name == "web" ? std::uint64_t{42} : std::uint64_t{0};
  });
  auto status = Send(openfaas::GetFunction(*h.controller, Request("", {}, {{"name", "web.team"}})));
  CHECK(status.body["invocationCount"] == 42);
  auto list = Send(openfaas::ListFunctions(*h.controller, Request("", {{"namespace", "team"}})));
  REQUIRE(list.body.size() == 1);
  CHECK(list.body[0]["invocationCount"] == 42);
}

TEST_CASE("OpenFaaS: malformed requests are 400 with a JSON error", "[daemon]") {
  Harness h;
  struct Case {
    const char* what;
    core::Result<ApiResponse> result;
  };
  Case cases[] = {
      {"deploy not json", openfaas::DeployFunction(*h.controller, Request("{"))},
      {"deploy array", openfaas::DeployFunction(*h.controller, Request("[]"))},
      {"deploy no service", openfaas::DeployFunction(*h.controller, Request(R"({"image": "x"})"))},
      {"delete no name", openfaas::DeleteFunction(*h.controller, Request("{}"))},
      {"scale no replicas",
       openfaas::ScaleFunction(*h.controller, Request("{}", {}, {{"name", "web"}}))},
      {"logs no name", openfaas::GetLogs(*h.logs, Request(""))},
      {"logs bad since",
       openfaas::GetLogs(*h.logs, Request("", {{"name", "web"}, {"since", "yesterday"}}))},
      {"secret no name", openfaas::CreateSecret(*h.controller, Request(R"({"value": "v"})"))},
      {"secret raw value not base64",
       openfaas::CreateSecret(*h.controller, Request(R"({"name": "k", "rawValue": "dg="})"))},
  };
  for (auto& c : cases) {
    INFO(c.what);
    auto answer = Send(std::move(c.result));
    CHECK(answer.status == 400);
    CHECK(answer.content_type == "application/json");
    CHECK(answer.body["error"].is_string());
  }
}

TEST_CASE("OpenFaaS: logs are NDJSON LogEntry lines of the function's kept output", "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(testing::WebSpec(0, 2), "sha256:web").ok());
  const auto t0 = h.clock.Wall();
  for (int i = 0; i < 5; ++i) {
    h.log_store.Append("team", "web",
                       {.time = t0 + std::chrono::seconds(i),
                        .text = "line " + std::to_string(i),
                        .replica = i % 2 == 0 ? "aaaaaaaaaaaa1111" : "bbbbbbbbbbbb2222"});
  }
  auto logs = gateway::ToApiResponse(openfaas::GetLogs(
      *h.logs,
      Request("", {{"name", "web.team"}, {"tail", "2"}, {"since", "2026-01-01T00:00:00Z"}})));
  CHECK(logs.status == 200);
  CHECK(logs.content_type == "application/x-ndjson");
  CHECK(logs.stream == nullptr);
  std::istringstream in(logs.body);
  std::vector<json> entries;
  for (std::string line; std::getline(in, line);) entries.push_back(json::parse(line));
  REQUIRE(entries.size() == 2);  // the tail counts for the function, not for each replica
  CHECK(entries[0] == json{{"name", "web"},
                           {"namespace", "team"},
                           {"instance", "bbbbbbbbbbbb"},
                           {"timestamp", "2026-01-01T00:00:03.000000000Z"},
                           {"text", "line 3"}});
  CHECK(entries[1]["text"] == "line 4");
  // One instance only.
  auto one = gateway::ToApiResponse(openfaas::GetLogs(
      *h.logs, Request("", {{"name", "web.team"}, {"instance", "aaaaaaaaaaaa"}})));
  CHECK(std::count(one.body.begin(), one.body.end(), '\n') == 3);
  CHECK(Send(openfaas::GetLogs(*h.logs, Request("", {{"name", "nope"}}))).status == 404);
  CHECK(
      Send(openfaas::GetLogs(*h.logs, Request("", {{"name", "web.team"}, {"tail", "x"}}))).status ==
      400);
}

TEST_CASE("OpenFaaS: logs with follow=true stream the lines written after the answer", "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(testing::WebSpec(0, 2), "sha256:web").ok());
  const auto t0 = h.clock.Wall();
  h.log_store.Append("team", "web", {.time = t0, .text = "before", .replica = "aaaaaaaaaaaa"});
  auto answer = gateway::ToApiResponse(
      openfaas::GetLogs(*h.logs, Request("", {{"name", "web.team"}, {"follow", "true"}})));
  CHECK(answer.status == 200);
  REQUIRE(answer.stream != nullptr);
  CHECK(json::parse(answer.body)["text"] == "before");
  std::vector<std::string> chunks;
  answer.stream->Next([&](std::string chunk, bool done) {
    CHECK_FALSE(done);
    chunks.push_back(std::move(chunk));
  });
  CHECK(chunks.empty());  // waits for a line
  h.log_store.Append(
      "team", "web",
      {.time = t0 + std::chrono::seconds(1), .text = "after", .replica = "aaaaaaaaaaaa"});
  REQUIRE(chunks.size() == 1);
  json e = json::parse(chunks[0]);
  CHECK(e["text"] == "after");
  CHECK(e["name"] == "web");
  CHECK(chunks[0].back() == '\n');
  // Gone client: nothing more is delivered.
  answer.stream->Next([&](std::string chunk, bool) { chunks.push_back(std::move(chunk)); });
  answer.stream->Cancel();
  h.log_store.Append(
      "team", "web",
      {.time = t0 + std::chrono::seconds(2), .text = "late", .replica = "aaaaaaaaaaaa"});
  CHECK(chunks.size() == 1);
}

TEST_CASE("OpenFaaS: secrets 201 (409 if there), 200 or 404 on update, 200 on delete, names only",
          "[daemon]") {
  Harness h;
  CHECK(Send(openfaas::UpdateSecret(*h.controller, Request(R"({"name": "key", "value": "v"})")))
            .status == 404);
  auto created = Send(
      openfaas::CreateSecret(*h.controller, Request(R"({"name": "key.team", "value": "v1"})")));
  CHECK(created.status == 201);
  CHECK(created.body == json{{"name", "key"}, {"namespace", "team"}});
  CHECK(Send(openfaas::CreateSecret(*h.controller,
                                    Request(R"({"name": "key.team", "value": "again"})")))
            .status == 409);
  CHECK(h.store->GetSecret("team", "key")->value == "v1");
  auto updated = Send(openfaas::UpdateSecret(
      *h.controller, Request(R"({"name": "key", "namespace": "team", "value": "v2"})")));
  CHECK(updated.status == 200);
  CHECK(h.store->GetSecret("team", "key")->value == "v2");

  auto list = Send(openfaas::ListSecrets(*h.controller, Request("", {{"namespace", "team"}})));
  CHECK(list.status == 200);
  CHECK(list.body == json::array({json{{"name", "key"}, {"namespace", "team"}}}));

  auto deleted = gateway::ToApiResponse(
      openfaas::DeleteSecret(*h.controller, Request(R"({"name": "key.team"})")));
  CHECK(deleted.status == 200);
  CHECK(deleted.body.empty());
  CHECK(Send(openfaas::DeleteSecret(*h.controller, Request(R"({"name": "key.team"})"))).status ==
        404);
}

TEST_CASE("OpenFaaS: a secret's rawValue is base64 bytes, stored as they are", "[daemon]") {
  Harness h;
  // "\x00\xff binary\n" in base64, as Go's encoding/json sends a []byte.
  auto created = Send(openfaas::CreateSecret(
      *h.controller, Request(R"({"name": "raw", "rawValue": "AP8gYmluYXJ5Cg=="})")));
  CHECK(created.status == 201);
  CHECK(h.store->GetSecret("default", "raw")->value == std::string("\x00\xff binary\n", 10));
  REQUIRE(Send(openfaas::UpdateSecret(
                   *h.controller, Request(R"({"name": "raw", "value": "v", "rawValue": "eA=="})")))
              .status == 200);
  CHECK(h.store->GetSecret("default", "raw")->value == "x");  // rawValue wins
  for (const char* bad : {R"({"name": "b", "rawValue": "not base64!"})",
                          R"({"name": "b", "rawValue": 7})", R"({"name": "b"})"}) {
    INFO(bad);
    CHECK(Send(openfaas::CreateSecret(*h.controller, Request(bad))).status == 400);
  }
}

TEST_CASE("OpenFaaS: info names the provider, namespaces always list default", "[daemon]") {
  Harness h;
  auto info = Send(openfaas::GetInfo(Request("")));
  CHECK(info.status == 200);
  CHECK(info.body["provider"]["provider"] == "gantry");
  CHECK(info.body["provider"]["orchestration"] == "docker");
  CHECK(info.body["version"]["release"].is_string());
  // The commit baked in at build: never empty, the same in both places.
  CHECK(info.body["version"]["sha"] == std::string(core::Revision()));
  CHECK_FALSE(info.body["version"]["sha"].get<std::string>().empty());
  CHECK(info.body["provider"]["version"]["sha"] == info.body["version"]["sha"]);
  CHECK(Send(openfaas::ListNamespaces(*h.controller, Request(""))).body ==
        json::array({"default"}));
  REQUIRE(h.controller->PutSecret("team", "key", "v").ok());
  CHECK(Send(openfaas::ListNamespaces(*h.controller, Request(""))).body ==
        json::array({"default", "team"}));
}

TEST_CASE("OpenFaaS: the route table is every handler once", "[daemon]") {
  Harness h;
  std::set<std::string> routes;
  for (const auto& r : OpenFaasRoutes(*h.controller, *h.logs)) {
    CHECK(r.needs_auth);
    CHECK(routes.insert(r.method + " " + r.pattern).second);
  }
  CHECK(routes == std::set<std::string>{
                      "GET /system/functions", "POST /system/functions", "PUT /system/functions",
                      "DELETE /system/functions", "GET /system/function/{name}",
                      "POST /system/scale-function/{name}", "GET /system/logs", "GET /system/info",
                      "GET /system/namespaces", "GET /system/secrets", "POST /system/secrets",
                      "PUT /system/secrets", "DELETE /system/secrets"});
}

}  // namespace
}  // namespace gantry::daemon
