// The controller over fakes (controller_harness.h): scale bounds, bounded logs of this
// instance's replicas only, applies racing deletes, and the errors each method states.
#include "daemon/controller.h"

#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "builder/bundle.h"
#include "daemon/api_support.h"
#include "daemon/controller_harness.h"
#include "support/tar.h"

namespace gantry::daemon {
namespace {

using core::ErrorCode;
using nlohmann::json;

using testing::Harness;
using testing::WebSpec;

TEST_CASE("controller: scale outside the function's [min, max] is a 400 naming the bounds",
          "[daemon]") {
  Harness h;
  REQUIRE(h.controller->ApplySpec(WebSpec(1, 4), "sha256:web").ok());
  for (int64_t replicas : {int64_t{0}, int64_t{5}, int64_t{8}, int64_t{1'000'000'000},
                           int64_t{4'294'967'297}, int64_t{-4'294'967'295}}) {
    INFO("replicas " << replicas);
    auto s = h.controller->Scale("team", "web", replicas);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(s.error().message(), Catch::Contains("[1, 4]"));
  }
  CHECK(h.controller->Scale("team", "web", 4).ok());
  CHECK(h.controller->Scale("nope", "web", 1).error().code() == ErrorCode::kNotFound);
}

TEST_CASE("resource API: replicas is a whole number that fits, never truncated", "[daemon]") {
  struct Case {
    const char* body;
    bool ok;
    int64_t value;
  };
  for (const Case& c :
       {Case{R"({"replicas": 3})", true, 3}, Case{R"({"replicas": -1})", true, -1},
        Case{R"({"replicas": 4294967297})", true, 4294967297},
        Case{R"({"replicas": 9223372036854775807})", true, INT64_MAX},
        Case{R"({"replicas": 9223372036854775808})", false, 0},
        Case{R"({"replicas": 18446744073709551616})", false, 0},
        Case{R"({"replicas": 1.5})", false, 0}, Case{R"({"replicas": "3"})", false, 0},
        Case{R"({"replicas": null})", false, 0}, Case{R"({})", false, 0}}) {
    INFO(c.body);
    auto r = ReplicasField(json::parse(c.body));
    REQUIRE(r.ok() == c.ok);
    if (c.ok) CHECK(*r == c.value);
    if (!c.ok) CHECK(r.error().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("controller: an unchanged apply racing deletes answers, never throws", "[daemon]") {
  Harness h;
  const std::string bundle = "not a tar: only its digest matters on the unchanged path";
  const std::string digest = builder::BundleDigest(bundle);
  spec::FunctionSpec spec = WebSpec(0, 2);
  REQUIRE(h.controller->ApplySpec(spec, digest).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> unchanged{0};
  std::thread applies([&] {
    while (!stop) {
      auto r = h.controller->ApplyBundle("team", "web", bundle, /*dry_run=*/false);
      if (r.ok() && r->result == "unchanged") ++unchanged;
    }
  });
  // The old code threw bad_variant_access in 4 runs of 5 at this count (1 in 5 at 300).
  for (int i = 0; i < 2000; ++i) {
    auto deleted = h.controller->Delete("team", "web");
    CHECK((deleted.ok() || deleted.error().code() == ErrorCode::kNotFound));
    REQUIRE(h.controller->ApplySpec(spec, digest).ok());
  }
  stop = true;
  applies.join();
  CHECK(unchanged > 0);
}

TEST_CASE("controller: an unknown function is kNotFound for every method that names one",
          "[daemon]") {
  Harness h;
  CHECK(h.controller->Describe("team", "web").error().code() == ErrorCode::kNotFound);
  CHECK(h.controller->Delete("team", "web").error().code() == ErrorCode::kNotFound);
  CHECK(h.controller->Scale("team", "web", 1).error().code() == ErrorCode::kNotFound);
  CHECK_FALSE(h.controller->Unchanged("team", "web", "sha256:web").has_value());
  auto list = h.controller->List("team");
  REQUIRE(list.ok());
  CHECK((*list)["items"].empty());
}

TEST_CASE("controller: a function naming a missing secret is kInvalidArgument saying so",
          "[daemon]") {
  Harness h;
  auto applied = h.controller->ApplySpec(WebSpec(0, 2, "  secrets: [key]\n"), "sha256:web");
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(applied.error().message(), Catch::Contains("secret \"key\" does not exist"));
  CHECK(h.controller->Describe("team", "web").error().code() == ErrorCode::kNotFound);

  REQUIRE(h.controller->PutSecret("team", "key", "v1").ok());
  CHECK(h.controller->ApplySpec(WebSpec(0, 2, "  secrets: [key]\n"), "sha256:web").ok());
}

TEST_CASE("controller: a bundle for another function than the URL's is kInvalidArgument",
          "[daemon]") {
  Harness h;
  auto bundle = builder::MakeBundle(WebSpec(0, 2));
  REQUIRE(bundle.ok());
  auto applied = h.controller->ApplyBundle("team", "other", *bundle, /*dry_run=*/false);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(applied.error().message(), Catch::Contains("the URL names team/other"));
  auto garbage = h.controller->ApplyBundle("team", "web", "not a tar", /*dry_run=*/false);
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code() == ErrorCode::kInvalidArgument);
  auto dry = h.controller->ApplyBundle("team", "web", *bundle, /*dry_run=*/true);
  REQUIRE(dry.ok());
  CHECK(dry->result == "valid");
  CHECK(h.controller->Describe("team", "web").error().code() == ErrorCode::kNotFound);
}

TEST_CASE("controller: an invalid bundle's errors name its files, never the state directory",
          "[daemon]") {
  Harness h;
  std::string tar = gantry::testing::MakeTar(
      {{.path = "function.json", .content = R"({"apiVersion": "gantry.dev/v1", "kind": "Function",
                       "metadata": {"name": "web", "namespace": "team"},
                       "spec": {"runtime": "exec", "bogus": 1}})"}});
  auto applied = h.controller->ApplyBundle("team", "web", tar, /*dry_run=*/false);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(applied.error().message(), Catch::Contains("function.json:"));
  CHECK_THAT(applied.error().message(), !Catch::Contains(h.state_dir));
  CHECK_THAT(applied.error().message(), !Catch::Contains("uploads"));
}

TEST_CASE("controller: a delete is told to on_delete once, after the record is gone", "[daemon]") {
  std::vector<std::string> deleted;
  store::Store* seen_store = nullptr;
  bool record_gone = false;
  Harness h({.on_delete = [&](const std::string& ns, const std::string& name) {
    deleted.push_back(ns + "/" + name);
    record_gone = seen_store != nullptr && !seen_store->GetFunction(ns, name).ok();
  }});
  seen_store = h.store.get();
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  REQUIRE(h.controller->Delete("team", "web").ok());
  CHECK(deleted == std::vector<std::string>{"team/web"});
  CHECK(record_gone);
  CHECK(h.controller->Delete("team", "web").error().code() == ErrorCode::kNotFound);
  CHECK(deleted.size() == 1);
}

TEST_CASE("controller: a secret in use is kConflict naming its users, a missing one kNotFound",
          "[daemon]") {
  Harness h;
  CHECK(h.controller->DeleteSecret("team", "key").error().code() == ErrorCode::kNotFound);
  CHECK(*h.controller->PutSecret("team", "key", "v1") == store::PutOutcome::kCreated);
  CHECK(*h.controller->PutSecret("team", "key", "v1") == store::PutOutcome::kUnchanged);
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2, "  secrets: [key]\n"), "sha256:web").ok());
  auto refused = h.controller->DeleteSecret("team", "key");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == ErrorCode::kConflict);
  CHECK_THAT(refused.error().message(), Catch::Contains("used by function web"));
  // Another namespace's secret of the same name is not in use.
  REQUIRE(h.controller->PutSecret("other", "key", "v1").ok());
  CHECK(h.controller->DeleteSecret("other", "key").ok());

  REQUIRE(h.controller->Delete("team", "web").ok());
  CHECK(h.controller->DeleteSecret("team", "key").ok());
}

TEST_CASE("controller: times are the store clock's, as ISO-8601 UTC", "[daemon]") {
  Harness h;
  REQUIRE(h.controller->PutSecret("team", "key", "v1").ok());
  REQUIRE(h.controller->ApplySpec(WebSpec(0, 2), "sha256:web").ok());
  h.clock.Advance(std::chrono::seconds(61));
  REQUIRE(h.controller->PutSecret("team", "key", "v2").ok());
  auto secrets = h.controller->ListSecrets("team");
  REQUIRE(secrets.ok());
  REQUIRE(secrets->size() == 1);
  CHECK((*secrets)[0]["createdAt"] == "2026-01-01T00:00:00Z");
  CHECK((*secrets)[0]["updatedAt"] == "2026-01-01T00:01:01Z");
  CHECK_FALSE((*secrets)[0].contains("value"));
  auto d = h.controller->Describe("team", "web");
  REQUIRE(d.ok());
  CHECK((*d)["status"]["createdAt"] == "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace gantry::daemon
