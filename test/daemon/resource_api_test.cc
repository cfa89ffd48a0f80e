// Gantry's resource API (/apis/gantry/v1), one handler at a time, without a socket: the
// request as the gateway hands it over, the controller over fakes (controller_harness.h),
// and the answer as the gateway would send it (gateway::ToApiResponse: status and JSON).
#include "daemon/resource_api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "builder/bundle.h"
#include "daemon/controller_harness.h"
#include "daemon/log_stream.h"
#include "daemon/resource_functions.h"
#include "daemon/resource_logs.h"
#include "daemon/resource_secrets.h"
#include "daemon/resource_version.h"
#include "gateway/error_mapping.h"

namespace gantry::daemon {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;
using testing::Harness;
using testing::WebSpec;

ApiRequest Request(std::map<std::string, std::string> params, std::string body = "",
                   std::map<std::string, std::string> query = {},
                   std::map<std::string, std::string> headers = {}) {
  return ApiRequest{.query = std::move(query),
                    .headers = std::move(headers),
                    .body = std::move(body),
                    .params = std::move(params)};
}

const std::map<std::string, std::string> kWeb = {{"ns", "team"}, {"name", "web"}};

// The answer as sent, with its body parsed.
struct Answer {
  int status;
  json body;
};
Answer Send(core::Result<ApiResponse> result) {
  ApiResponse r = gateway::ToApiResponse(std::move(result));
  return {r.status, json::parse(r.body, nullptr, false)};
}

TEST_CASE("resource API: apply answers 201, 200 unchanged by digest, 412 for a new digest",
          "[daemon]") {
  Harness h;
  builder::BundleLimits limits;
  auto bundle = builder::MakeBundle(WebSpec(0, 2));
  REQUIRE(bundle.ok());
  const std::string digest = builder::BundleDigest(*bundle);

  auto need = Send(resource::ApplyFunction(
      *h.controller, limits, Request(kWeb, "", {}, {{"x-gantry-bundle-digest", digest}})));
  CHECK(need.status == 412);
  CHECK(need.body["limits"] == limits.ToJson());
  CHECK(need.body.contains("error"));

  auto dry = Send(resource::ApplyFunction(*h.controller, limits,
                                          Request(kWeb, *bundle, {{"dryRun", "server"}})));
  CHECK(dry.status == 200);
  CHECK(dry.body["result"] == "valid");

  auto created = Send(resource::ApplyFunction(*h.controller, limits, Request(kWeb, *bundle)));
  CHECK(created.status == 201);
  CHECK(created.body["result"] == "created");
  CHECK(created.body["generation"] == 1);
  CHECK(created.body["name"] == "web");
  CHECK(created.body["namespace"] == "team");
  CHECK(created.body["digest"] == digest);

  auto unchanged = Send(resource::ApplyFunction(
      *h.controller, limits, Request(kWeb, "", {}, {{"x-gantry-bundle-digest", digest}})));
  CHECK(unchanged.status == 200);
  CHECK(unchanged.body["result"] == "unchanged");
  CHECK(unchanged.body["generation"] == 1);

  auto changed = Send(resource::ApplyFunction(
      *h.controller, limits, Request(kWeb, "", {}, {{"x-gantry-bundle-digest", "sha256:other"}})));
  CHECK(changed.status == 412);
}

TEST_CASE("resource API: a bundle over the limits is 413, one that is not a bundle 400",
          "[daemon]") {
  Harness h;
  auto bundle = builder::MakeBundle(WebSpec(0, 2));
  REQUIRE(bundle.ok());
  builder::BundleLimits tiny{.max_upload = 16, .max_unpacked = 1 << 20};
  auto over = Send(resource::ApplyFunction(*h.controller, tiny, Request(kWeb, *bundle)));
  CHECK(over.status == 413);
  CHECK(over.body.is_object());
  auto garbage = Send(resource::ApplyFunction(*h.controller, {}, Request(kWeb, "not a tar")));
  CHECK(garbage.status == 400);
  CHECK(garbage.body.contains("error"));
  CHECK(h.controller->Describe("team", "web").error().code() == core::ErrorCode::kNotFound);
}

TEST_CASE("resource API: get, list and delete translate the controller's answers", "[daemon]") {
  Harness h;
  auto missing = Send(resource::GetFunction(*h.controller, Request(kWeb)));
  CHECK(missing.status == 404);
  CHECK(missing.body["error"].is_string());
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());

  auto got = Send(resource::GetFunction(*h.controller, Request(kWeb)));
  CHECK(got.status == 200);
  CHECK(got.body["kind"] == "Function");
  CHECK(got.body["metadata"]["name"] == "web");
  CHECK(got.body["status"]["createdAt"] == "2026-01-01T00:00:00Z");

  auto list = Send(resource::ListFunctions(*h.controller, Request({{"ns", "team"}})));
  CHECK(list.status == 200);
  CHECK(list.body["kind"] == "FunctionList");
  CHECK(list.body["items"].size() == 1);
  auto other = Send(resource::ListFunctions(*h.controller, Request({{"ns", "other"}})));
  CHECK(other.body["items"].empty());
  auto all = Send(resource::ListAllFunctions(*h.controller, Request({})));
  CHECK(all.body["items"].size() == 1);

  auto deleted = Send(resource::DeleteFunction(*h.controller, Request(kWeb)));
  CHECK(deleted.status == 200);
  CHECK(deleted.body == json{{"namespace", "team"}, {"name", "web"}, {"result", "deleted"}});
  CHECK(Send(resource::DeleteFunction(*h.controller, Request(kWeb))).status == 404);
}

TEST_CASE("resource API: scale is 200 within the bounds, 400 JSON for bad input", "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(WebSpec(1, 4), "sha256:web").ok());
  auto scaled = Send(resource::ScaleFunction(*h.controller, Request(kWeb, R"({"replicas": 3})")));
  CHECK(scaled.status == 200);
  CHECK(scaled.body == json{{"name", "web"}, {"replicas", 3}});
  for (const char* body : {"", "[3]", "not json", R"({"replicas": "3"})", R"({"replicas": 9})"}) {
    INFO(body);
    auto bad = Send(resource::ScaleFunction(*h.controller, Request(kWeb, body)));
    CHECK(bad.status == 400);
    CHECK(bad.body["error"].is_string());
  }
  auto bounds = Send(resource::ScaleFunction(*h.controller, Request(kWeb, R"({"replicas": 9})")));
  CHECK_THAT(bounds.body["error"].get<std::string>(), Catch::Contains("[1, 4]"));
  auto unknown = Send(resource::ScaleFunction(
      *h.controller, Request({{"ns", "team"}, {"name", "nope"}}, R"({"replicas": 1})")));
  CHECK(unknown.status == 404);
}

TEST_CASE(
    "resource API: secrets are 201 created, 200 unchanged or configured, listed without "
    "values, in use is 409",
    "[daemon]") {
  Harness h;
  const std::map<std::string, std::string> key = {{"ns", "team"}, {"name", "key"}};
  auto created = Send(resource::PutSecret(*h.controller, Request(key, R"({"value": "v1"})")));
  CHECK(created.status == 201);
  CHECK(created.body == json{{"namespace", "team"}, {"name", "key"}, {"result", "created"}});
  auto same = Send(resource::PutSecret(*h.controller, Request(key, R"({"value": "v1"})")));
  CHECK(same.status == 200);
  CHECK(same.body["result"] == "unchanged");
  h.clock.Advance(std::chrono::seconds(5));
  auto changed = Send(resource::PutSecret(*h.controller, Request(key, R"({"value": "v2"})")));
  CHECK(changed.status == 200);
  CHECK(changed.body["result"] == "configured");
  for (const char* body : {"", R"({"value": 1})", R"({"other": "v"})"}) {
    INFO(body);
    CHECK(Send(resource::PutSecret(*h.controller, Request(key, body))).status == 400);
  }

  auto list = Send(resource::ListSecrets(*h.controller, Request({{"ns", "team"}})));
  CHECK(list.status == 200);
  CHECK(list.body["kind"] == "SecretList");
  REQUIRE(list.body["items"].size() == 1);
  CHECK(list.body["items"][0] == json{{"namespace", "team"},
                                      {"name", "key"},
                                      {"createdAt", "2026-01-01T00:00:00Z"},
                                      {"updatedAt", "2026-01-01T00:00:05Z"}});

  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2, "  secrets: [key]\n"), "sha256:web").ok());
  auto in_use = Send(resource::DeleteSecret(*h.controller, Request(key)));
  CHECK(in_use.status == 409);
  CHECK_THAT(in_use.body["error"].get<std::string>(), Catch::Contains("web"));
  REQUIRE(h.controller->Delete("team", "web").ok());
  auto deleted = Send(resource::DeleteSecret(*h.controller, Request(key)));
  CHECK(deleted.status == 200);
  CHECK(deleted.body["result"] == "deleted");
  CHECK(Send(resource::DeleteSecret(*h.controller, Request(key))).status == 404);
}

TEST_CASE("resource API: version names gantryd's and the engine's", "[daemon]") {
  Harness h;
  auto v = Send(resource::GetVersion(h.docker, Request({})));
  CHECK(v.status == 200);
  CHECK(v.body["apiVersion"] == "gantry.dev/v1");
  CHECK(v.body["version"].is_string());
  CHECK(v.body["engine"]["version"] == "fake");
}

TEST_CASE("resource API: the route table is every handler once, in the documented patterns",
          "[daemon]") {
  Harness h;
  std::set<std::string> routes;
  for (const auto& r : ResourceRoutes(*h.controller, h.docker, *h.logs)) {
    CHECK(r.needs_auth);
    CHECK(routes.insert(r.method + " " + r.pattern).second);
  }
  CHECK(routes == std::set<std::string>{
                      "PUT /apis/gantry/v1/namespaces/{ns}/functions/{name}",
                      "GET /apis/gantry/v1/namespaces/{ns}/functions/{name}",
                      "DELETE /apis/gantry/v1/namespaces/{ns}/functions/{name}",
                      "PUT /apis/gantry/v1/namespaces/{ns}/functions/{name}/scale",
                      "GET /apis/gantry/v1/namespaces/{ns}/functions",
                      "GET /apis/gantry/v1/functions",
                      "PUT /apis/gantry/v1/namespaces/{ns}/secrets/{name}",
                      "DELETE /apis/gantry/v1/namespaces/{ns}/secrets/{name}",
                      "GET /apis/gantry/v1/namespaces/{ns}/secrets",
                      "GET /apis/gantry/v1/version",
                      "GET /apis/gantry/v1/namespaces/{ns}/functions/{name}/logs",
                      "POST /apis/gantry/v1/namespaces/{ns}/functions/{name}/wait",
                  });
}

TEST_CASE("resource API: logs are NDJSON of the kept lines, with stream, replica and call id",
          "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  const auto t0 = h.clock.Wall() - std::chrono::minutes(20);
  h.log_store.Append("team", "web", {.time = t0, .text = "old", .replica = "aaaaaaaaaaaa"});
  h.log_store.Append("team", "web",
                     {.time = h.clock.Wall() - std::chrono::seconds(5),
                      .stream = logstore::LogStream::kStderr,
                      .text = "Traceback (most recent call last):",
                      .replica = "bbbbbbbbbbbb99",
                      .call_id = "call-1",
                      .generation = 2});
  auto request = [](std::map<std::string, std::string> query) {
    gateway::ApiRequest r{.method = "GET", .query = std::move(query)};
    r.params = {{"ns", "team"}, {"name", "web"}};
    return r;
  };
  auto recent =
      gateway::ToApiResponse(resource::GetFunctionLogs(*h.logs, request({{"since", "10m"}})));
  CHECK(recent.status == 200);
  CHECK(recent.content_type == "application/x-ndjson");
  REQUIRE(std::count(recent.body.begin(), recent.body.end(), '\n') == 1);
  CHECK(json::parse(recent.body) == json{{"time", "2025-12-31T23:59:55.000000000Z"},
                                         {"stream", "stderr"},
                                         {"text", "Traceback (most recent call last):"},
                                         {"replica", "bbbbbbbbbbbb"},
                                         {"callId", "call-1"},
                                         {"generation", 2}});
  auto all = gateway::ToApiResponse(resource::GetFunctionLogs(*h.logs, request({})));
  CHECK(json::parse(all.body.substr(0, all.body.find('\n'))).count("callId") == 0);
  CHECK(std::count(all.body.begin(), all.body.end(), '\n') == 2);
  for (const char* bad : {"yesterday", "-5"}) {
    INFO(bad);
    CHECK(gateway::ToApiResponse(resource::GetFunctionLogs(*h.logs, request({{"since", bad}})))
              .status == 400);
  }
  CHECK(gateway::ToApiResponse(resource::GetFunctionLogs(*h.logs, request({{"tail", "1x"}})))
            .status == 400);
  gateway::ApiRequest unknown = request({});
  unknown.params["name"] = "nope";
  CHECK(gateway::ToApiResponse(resource::GetFunctionLogs(*h.logs, unknown)).status == 404);
}

TEST_CASE("resource API: a followed stream tells a slow reader how many lines it missed",
          "[daemon]") {
  logstore::LogStore store({.subscriber_buffer_lines = 2});
  auto [backlog, subscription] = store.Subscribe("team", "web", {});
  LogStream stream(subscription, GantryLogLine);
  const auto t0 = std::chrono::system_clock::now();
  for (int i = 0; i < 5; ++i) {
    store.Append("team", "web",
                 {.time = t0 + std::chrono::milliseconds(i),
                  .text = std::to_string(i),
                  .replica = "aaaaaaaaaaaa"});
  }
  std::string chunk;
  stream.Next([&](std::string c, bool done) {
    CHECK_FALSE(done);
    chunk = std::move(c);
  });
  std::istringstream in(chunk);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["replica"] == "gantry");
  CHECK_THAT(lines[0]["text"].get<std::string>(), Catch::Contains("3 lines dropped"));
  CHECK(lines[1]["text"] == "3");
  CHECK(lines[2]["text"] == "4");
  stream.Cancel();
  CHECK(subscription->cancelled());
}

}  // namespace
}  // namespace gantry::daemon
