#include "docker/responses.h"

#include <catch2/catch.hpp>

namespace gantry::docker {
namespace {

using core::ErrorCode;
using nlohmann::json;

TEST_CASE("engine error bodies map to typed errors with the call and the engine's message",
          "[docker][responses]") {
  struct Case {
    long status;
    const char* body;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {404, R"({"message":"No such container: abc"})", ErrorCode::kNotFound,
       "No such container: abc"},
      {409, R"({"message":"Conflict. The container name \"/x\" is already in use"})",
       ErrorCode::kConflict, "Conflict. The container name \"/x\" is already in use"},
      {400, R"({"message":"invalid reference format"})", ErrorCode::kInvalidArgument,
       "invalid reference format"},
      {403, R"({"message":"forbidden"})", ErrorCode::kInvalidArgument, "forbidden"},
      {500, R"({"message":"driver failed"})", ErrorCode::kInternal, "driver failed"},
      {503, R"({"message":"shutting down"})", ErrorCode::kUnavailable, "shutting down"},
      {502, "Bad Gateway\n", ErrorCode::kInternal, "Bad Gateway"},
      {500, "", ErrorCode::kInternal, "HTTP 500"},
  };
  for (const Case& c : cases) {
    INFO(c.status << " " << c.body);
    core::Error e = ErrorFromResponse(c.status, c.body, "POST /containers/create");
    CHECK(e.code() == c.code);
    CHECK(e.message() == std::string("POST /containers/create: ") + c.message);
  }
}

TEST_CASE("container inspect parses state, labels, limits and ports", "[docker][responses]") {
  json j = json::parse(R"({
    "Id": "abc123", "Name": "/fn-echo-1", "Image": "sha256:img",
    "Config": {"Image": "gantry/base:bookworm", "Labels": {"gantry.test": "r1"}},
    "State": {"Status": "exited", "Running": false, "Paused": false, "OOMKilled": true, "Pid": 0,
              "ExitCode": 137, "Error": "", "StartedAt": "2026-01-01T00:00:00Z", "FinishedAt": "x"},
    "HostConfig": {"Memory": 134217728, "NanoCpus": 500000000, "PidsLimit": 64, "ReadonlyRootfs": true,
                   "NetworkMode": "bridge"},
    "NetworkSettings": {"IPAddress": "172.17.0.2",
                        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
                        "Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}], "9/udp": null,
                                  "7/tcp": [{"HostIp": "127.0.0.1", "HostPort": "x7"}]}}
  })");
  auto c = ParseContainerInspect(j);
  REQUIRE(c.ok());
  CHECK(c->id == "abc123");
  CHECK(c->name == "fn-echo-1");
  CHECK(c->image == "gantry/base:bookworm");
  CHECK(c->labels.at("gantry.test") == "r1");
  CHECK(c->state.status == "exited");
  CHECK(c->state.exit_code == 137);
  CHECK(c->state.oom_killed);
  CHECK(c->memory_bytes == 134217728);
  CHECK(c->pids_limit == 64);
  CHECK(c->read_only_rootfs);
  CHECK(c->networks.at("bridge") == "172.17.0.2");
  CHECK(c->host_ports.at("8080/tcp") == 49153);
  CHECK(c->host_ports.count("9/udp") == 0);
  CHECK(c->host_ports.count("7/tcp") == 0);  // a port that is not a number is left out
}

TEST_CASE("answers of the wrong shape are internal errors, not exceptions", "[docker][responses]") {
  CHECK(ParseContainerInspect(json{{"Name", "x"}}).error().code() == ErrorCode::kInternal);
  CHECK(ParseContainerInspect(json{{"Id", 5}}).error().code() == ErrorCode::kInternal);
  CHECK(ParseContainerList(json::object()).error().code() == ErrorCode::kInternal);
  CHECK(ParseWait(json{{"StatusCode", "zero"}}).error().code() == ErrorCode::kInternal);
  CHECK(ParseVersion(json::object()).error().code() == ErrorCode::kInternal);
  auto bad = ParseJson("<html>", "GET /info");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::StartsWith("GET /info: "));
}

TEST_CASE("events, lists and wait results parse", "[docker][responses]") {
  auto e = ParseEvent(json::parse(R"({"Type":"container","Action":"die","Actor":{"ID":"abc",
      "Attributes":{"exitCode":"3","gantry.test":"r1","name":"x"}},"time":1,"timeNano":1700000000000000001})"));
  REQUIRE(e.ok());
  CHECK(e->type == "container");
  CHECK(e->action == "die");
  CHECK(e->id == "abc");
  CHECK(e->attributes.at("exitCode") == "3");
  CHECK(e->time_nano == 1700000000000000001);

  auto list =
      ParseContainerList(json::parse(R"([{"Id":"a","Names":["/one"],"Image":"img","State":"running",
      "Status":"Up 1 second","Labels":{"k":"v"}}])"));
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "one");
  CHECK((*list)[0].labels.at("k") == "v");

  auto images = ParseImageList(json::parse(
      R"([{"Id":"sha256:1","RepoTags":["a:b"],"Labels":null,"Size":5,"Created":1700000000}])"));
  REQUIRE(images.ok());
  CHECK((*images)[0].created_unix == 1700000000);
  CHECK((*images)[0].repo_tags == std::vector<std::string>{"a:b"});

  auto wait = ParseWait(json::parse(R"({"StatusCode":3,"Error":null})"));
  REQUIRE(wait.ok());
  CHECK(wait->exit_code == 3);
}

TEST_CASE("network inspect and list parse labels, options, gateway and attached containers",
          "[docker][responses]") {
  // Trimmed from a real GET /networks/{name} of Docker 20.10.
  auto n = ParseNetworkInspect(
      json::parse(R"({"Name":"gantry-aaaa1111","Id":"94996ee1c56d","Driver":"bridge",
      "Internal":false,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"172.24.0.0/16",
      "Gateway":"172.24.0.1"}]},"Containers":{"c1":{"Name":"gantry-ns-fn-r0","IPv4Address":"172.24.0.2/16",
      "IPv6Address":""}},"Options":{"com.docker.network.bridge.enable_icc":"false"},
      "Labels":{"gantry.instance":"aaaa1111"}})"));
  REQUIRE(n.ok());
  CHECK(n->name == "gantry-aaaa1111");
  CHECK(n->id == "94996ee1c56d");
  CHECK(n->driver == "bridge");
  CHECK_FALSE(n->internal);
  CHECK(n->subnets == std::vector<std::string>{"172.24.0.0/16"});
  CHECK(n->gateways == std::vector<std::string>{"172.24.0.1"});
  CHECK(n->containers == std::map<std::string, std::string>{{"c1", "172.24.0.2"}});
  CHECK(n->options.at("com.docker.network.bridge.enable_icc") == "false");
  CHECK(n->labels.at("gantry.instance") == "aaaa1111");

  auto list = ParseNetworkList(
      json::parse(R"([{"Name":"a","Id":"1","IPAM":{"Config":null},"Labels":null}])"));
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].gateways.empty());
  CHECK_FALSE(ParseNetworkList(json::parse(R"({"Name":"a"})")).ok());
  CHECK(ParseNetworkInspect(json::parse(R"({"Name":"a"})")).error().code() == ErrorCode::kInternal);

  auto summary =
      ParseContainerList(json::parse(R"([{"Id":"a","HostConfig":{"NetworkMode":"none"}}])"));
  REQUIRE(summary.ok());
  CHECK((*summary)[0].network_mode == "none");
}

}  // namespace
}  // namespace gantry::docker
