// The invocation API over a real store in a temporary directory and a ManualClock: the
// query's translation (and its 400s), the record JSON, lookups by id.
#include "daemon/resource_invocations.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "gateway/error_mapping.h"

namespace gantry::daemon::resource {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::minutes;

struct Fixture {
  static inline int n_ = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("gantry-inv-api-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
  core::ManualClock clock;
  std::unique_ptr<store::Store> store;
  int64_t now_ms = 0;

  Fixture() {
    fs::create_directories(dir);
    auto opened = store::Store::Open((dir / "gantry.db").string(), {.clock = &clock});
    REQUIRE(opened.ok());
    store = std::move(*opened);
    now_ms = std::chrono::duration_cast<milliseconds>(clock.Wall().time_since_epoch()).count();
    auto at = [&](int64_t minutes_ago) { return now_ms - minutes_ago * 60'000; };
    REQUIRE(store
                ->RecordInvocations({
                    {.call_id = "old",
                     .namespace_name = "default",
                     .function = "echo",
                     .status = 200,
                     .started_unix_ms = at(30)},
                    {.call_id = "bad",
                     .namespace_name = "default",
                     .function = "echo",
                     .generation = 4,
                     .replica = "0123456789abcdef0123",
                     .cold = true,
                     .queue_wait_us = 1500,
                     .duration_us = 2500,
                     .status = 500,
                     .request_bytes = 3,
                     .response_bytes = 9,
                     .started_unix_ms = at(5)},
                    {.call_id = "new",
                     .namespace_name = "default",
                     .function = "echo",
                     .status = 200,
                     .started_unix_ms = at(1)},
                    {.call_id = "other",
                     .namespace_name = "default",
                     .function = "other",
                     .status = 200,
                     .started_unix_ms = at(1)},
                })
                .ok());
  }
  ~Fixture() { fs::remove_all(dir); }

  gateway::ApiResponse List(std::map<std::string, std::string> query) {
    gateway::ApiRequest r;
    r.method = "GET";
    r.params = {{"ns", "default"}, {"name", "echo"}};
    r.query = std::move(query);
    return gateway::ToApiResponse(ListInvocations(*store, clock, r));
  }
  gateway::ApiResponse Get(const std::string& id, const std::string& name = "") {
    gateway::ApiRequest r;
    r.method = "GET";
    r.params = {{"ns", "default"}, {"id", id}};
    if (!name.empty()) r.params["name"] = name;
    return gateway::ToApiResponse(GetInvocation(*store, r));
  }
};

std::vector<std::string> Ids(const gateway::ApiResponse& r) {
  json j = json::parse(r.body);
  CHECK(j["kind"] == "InvocationList");
  std::vector<std::string> ids;
  for (const auto& item : j["items"]) ids.push_back(item["callId"]);
  return ids;
}

TEST_CASE("invocations API: list filters by status, since and limit, newest first",
          "[daemon][records]") {
  Fixture f;
  using V = std::vector<std::string>;
  CHECK(Ids(f.List({})) == V{"new", "bad", "old"});
  CHECK(Ids(f.List({{"status", "failed"}})) == V{"bad"});
  CHECK(Ids(f.List({{"status", "succeeded"}})) == V{"new", "old"});
  CHECK(Ids(f.List({{"status", "500"}})) == V{"bad"});
  CHECK(Ids(f.List({{"since", "10m"}})) == V{"new", "bad"});
  CHECK(Ids(f.List({{"since", "2025-12-31T23:00:00Z"}})) == V{"new", "bad", "old"});
  CHECK(Ids(f.List({{"since", "2025-12-31T23:50:00Z"}})) == V{"new", "bad"});
  CHECK(Ids(f.List({{"since", "2026-01-01T00:00:00Z"}})).empty());
  CHECK(Ids(f.List({{"limit", "1"}})) == V{"new"});
}

TEST_CASE("invocations API: bad query values are 400 naming the parameter", "[daemon][records]") {
  Fixture f;
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"limit", "0"},
                                                                            {"limit", "abc"},
                                                                            {"limit", "1001"},
                                                                            {"limit", "5x"},
                                                                            {"status", "broken"},
                                                                            {"status", "99"},
                                                                            {"status", "600"},
                                                                            {"since", "yesterday"},
                                                                            {"since", "10"}}) {
    INFO(key << "=" << value);
    auto r = f.List({{key, value}});
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains(key));
  }
}

TEST_CASE("invocations API: a record's JSON has every field, the replica as 12 hex",
          "[daemon][records]") {
  Fixture f;
  auto r = f.Get("bad");
  REQUIRE(r.status == 200);
  json j = json::parse(r.body);
  CHECK(j["callId"] == "bad");
  CHECK(j["function"] == "echo");
  CHECK(j["namespace"] == "default");
  CHECK(j["generation"] == 4);
  CHECK(j["replica"] == "0123456789ab");
  CHECK(j["trigger"] == "http");
  CHECK(j["cold"] == true);
  CHECK(j["queueWaitMs"] == 1.5);
  CHECK(j["durationMs"] == 2.5);
  CHECK(j["status"] == 500);
  CHECK(j["requestBytes"] == 3);
  CHECK(j["responseBytes"] == 9);
  CHECK(j["error"] == "");
  CHECK(j["startedAt"] == "2025-12-31T23:55:00.000Z");
  CHECK_FALSE(j.contains("state"));
  CHECK_FALSE(j.contains("result"));
}

TEST_CASE("invocations API: unknown ids, and another function's, are 404", "[daemon][records]") {
  Fixture f;
  CHECK(f.Get("nope").status == 404);
  CHECK(f.Get("other", "echo").status == 404);
  CHECK(f.Get("other", "other").status == 200);
  CHECK(f.Get("other").status == 200);
}

TEST_CASE("invocations API: an async call shows state, attempts and its result",
          "[daemon][records]") {
  Fixture f;
  store::AsyncCall call{.call_id = "job", .namespace_name = "default", .function = "echo"};
  REQUIRE(f.store->EnqueueAsync(call).ok());
  json queued = json::parse(f.Get("job").body);
  CHECK(queued["state"] == "queued");
  CHECK(queued["trigger"] == "async");
  CHECK(queued["attempts"] == 0);
  CHECK(queued["enqueuedAt"] == "2026-01-01T00:00:00.000Z");
  CHECK_FALSE(queued.contains("result"));

  REQUIRE(f.store->ClaimAsync()->has_value());
  REQUIRE(f.store
              ->RecordAsyncOutcome({.call_id = "job",
                                    .status = 200,
                                    .started_unix_ms = f.now_ms,
                                    .state = "succeeded",
                                    .attempts = 1,
                                    .result_status = 200,
                                    .result_headers_json = R"({"content-type":"text/plain"})",
                                    .result_body = "hi\n"})
              .ok());
  json done = json::parse(f.Get("job").body);
  CHECK(done["state"] == "succeeded");
  CHECK(done["attempts"] == 1);
  CHECK(done["result"]["status"] == 200);
  CHECK(done["result"]["headers"]["content-type"] == "text/plain");
  CHECK(done["result"]["body"] == "hi\n");
  CHECK(done["result"]["truncated"] == false);
  CHECK_FALSE(done["result"].contains("bodyEncoding"));

  REQUIRE(f.store
              ->RecordAsyncOutcome({.call_id = "job",
                                    .status = 200,
                                    .state = "succeeded",
                                    .attempts = 1,
                                    .result_status = 200,
                                    .result_body = std::string("\xff\x00\x01", 3)})
              .ok());
  json binary = json::parse(f.Get("job").body);
  CHECK(binary["result"]["bodyEncoding"] == "base64");
  CHECK(binary["result"]["body"] == "/wAB");
}

TEST_CASE("invocations API: the routes", "[daemon][records]") {
  Fixture f;
  auto routes = InvocationRoutes(*f.store, f.clock);
  REQUIRE(routes.size() == 5);
  CHECK(routes[0].pattern == "/apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations");
  CHECK(routes[1].pattern == "/apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations/{id}");
  CHECK(routes[2].pattern == "/apis/gantry/v1/namespaces/{ns}/invocations/{id}");
  CHECK(routes[3].pattern == "/apis/gantry/v1/namespaces/{ns}/usage");
  CHECK(routes[4].pattern == "/apis/gantry/v1/usage");
  for (const auto& r : routes) {
    CHECK(r.method == "GET");
    CHECK(r.needs_auth);
  }
}

gateway::ApiResponse Usage(Fixture& f, std::map<std::string, std::string> query,
                           const std::string& ns = "default") {
  gateway::ApiRequest r;
  r.method = "GET";
  if (!ns.empty()) r.params = {{"ns", ns}};
  r.query = std::move(query);
  return gateway::ToApiResponse(GetUsage(*f.store, f.clock, r));
}

TEST_CASE("usage API: per function or per hour, with totals and GB-seconds", "[daemon][usage]") {
  Fixture f;
  REQUIRE(f.store
              ->RecordInvocations({{.call_id = "m1",
                                    .namespace_name = "default",
                                    .function = "echo",
                                    .replica = "0123456789abcdef",
                                    .duration_us = 7'200,
                                    .status = 200,
                                    .request_bytes = 5,
                                    .started_unix_ms = f.now_ms - 2 * 3'600'000,
                                    .memory_bytes = 256 << 20},
                                   {.call_id = "m2",
                                    .namespace_name = "team",
                                    .function = "resize",
                                    .replica = "0123456789abcdef",
                                    .duration_us = 1,
                                    .status = 200,
                                    .started_unix_ms = f.now_ms - 60'000,
                                    .memory_bytes = 1 << 30}})
              .ok());
  auto r = Usage(f, {});
  REQUIRE(r.status == 200);
  json j = json::parse(r.body);
  CHECK(j["kind"] == "Usage");
  CHECK(j["by"] == "function");
  REQUIRE(j["items"].size() == 1);  // the fixture's "bad" (it ran) and m1, both echo
  CHECK(j["items"][0]["function"] == "echo");
  CHECK(j["items"][0]["calls"] == 2);
  CHECK(j["items"][0]["billedMs"] == 3 + 8);
  CHECK(j["items"][0]["gbSeconds"].get<double>() == Approx(8 * 0.25 / 1000));
  CHECK(j["total"]["calls"] == 2);
  CHECK(j["total"]["errors"] == 1);

  auto all = json::parse(Usage(f, {}, "").body);
  CHECK(all["items"].size() == 2);
  CHECK(all["total"]["calls"] == 3);
  CHECK(all["total"]["gbSeconds"].get<double>() == Approx(8 * 0.25 / 1000 + 0.001));

  auto hours = json::parse(Usage(f, {{"by", "hour"}}).body);
  REQUIRE(hours["items"].size() == 2);
  CHECK(hours["items"][0]["hour"] == "2025-12-31T22:00:00.000Z");
  CHECK(hours["items"][1]["hour"] == "2025-12-31T23:00:00.000Z");

  auto recent = json::parse(Usage(f, {{"since", "1h"}}).body);
  CHECK(recent["total"]["calls"] == 1);  // "bad", 5 minutes ago
  CHECK(recent["since"] == "2025-12-31T23:00:00.000Z");
  auto upto = json::parse(Usage(f, {{"until", "2025-12-31T23:00:00Z"}}).body);
  CHECK(upto["total"]["calls"] == 1);  // m1
}

TEST_CASE("usage API: bad parameters are 400 naming them", "[daemon][usage]") {
  Fixture f;
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"by", "minute"}, {"since", "yesterday"}, {"until", "soon"}}) {
    INFO(key << "=" << value);
    auto r = Usage(f, {{key, value}});
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains(key));
  }
  auto r = Usage(f, {{"since", "1h"}, {"until", "2h"}});
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("until"));
}

}  // namespace
}  // namespace gantry::daemon::resource
