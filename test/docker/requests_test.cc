#include "docker/requests.h"

#include <catch2/catch.hpp>

#include "docker/curl_transport.h"

namespace gantry::docker {
namespace {

using nlohmann::json;

std::string QueryValue(const HttpRequest& r, std::string_view key) {
  for (const auto& [k, v] : r.query) {
    if (k == key) return v;
  }
  return "<absent>";
}

TEST_CASE("container create carries every setting in the engine's field names",
          "[docker][requests]") {
  ContainerSpec spec;
  spec.name = "fn-echo-1";
  spec.image = "gantry/fn-default-echo:abc";
  spec.entrypoint = {"/gantry-shim"};
  spec.cmd = {"cat"};
  spec.env = {"A=1"};
  spec.labels = {{"gantry.function", "echo"}};
  spec.user = "65534:65534";
  spec.working_dir = "/fn";
  spec.mounts = {{.type = Mount::Type::kBind, .source = "/run/gantry/r1", .target = "/run/gantry"},
                 {.type = Mount::Type::kTmpfs, .target = "/tmp", .tmpfs_size_bytes = 64 << 20}};
  spec.ports = {{.container_port = 8080}};
  spec.memory_bytes = 128 << 20;
  spec.nano_cpus = 500'000'000;
  spec.pids_limit = 64;
  spec.read_only_rootfs = true;
  spec.cap_drop = {"ALL"};
  spec.security_opt = {"no-new-privileges"};
  spec.init = true;
  spec.network_mode = "none";
  spec.log_driver = "json-file";
  spec.log_options = {{"max-size", "10m"}, {"max-file", "3"}};

  HttpRequest r = ContainerCreateRequest(spec);
  CHECK(r.method == "POST");
  CHECK(r.path == "/containers/create");
  CHECK(QueryValue(r, "name") == "fn-echo-1");
  CHECK(r.content_type == "application/json");
  json body = json::parse(r.body);
  CHECK(body["Image"] == "gantry/fn-default-echo:abc");
  CHECK(body["Entrypoint"] == json{"/gantry-shim"});
  CHECK(body["Cmd"] == json{"cat"});
  CHECK(body["Env"] == json{"A=1"});
  CHECK(body["Labels"]["gantry.function"] == "echo");
  CHECK(body["User"] == "65534:65534");
  CHECK(body["WorkingDir"] == "/fn");
  CHECK(body["ExposedPorts"].contains("8080/tcp"));
  const json& host = body["HostConfig"];
  CHECK(host["Memory"] == 128 << 20);
  CHECK(host["MemorySwap"] == 128 << 20);
  CHECK(host["NanoCpus"] == 500'000'000);
  CHECK(host["PidsLimit"] == 64);
  CHECK(host["ReadonlyRootfs"] == true);
  CHECK(host["CapDrop"] == json{"ALL"});
  CHECK(host["SecurityOpt"] == json{"no-new-privileges"});
  CHECK(host["Init"] == true);
  CHECK(host["NetworkMode"] == "none");
  CHECK(host["LogConfig"] ==
        json{{"Type", "json-file"}, {"Config", {{"max-size", "10m"}, {"max-file", "3"}}}});
  REQUIRE(host["Mounts"].size() == 2);
  CHECK(host["Mounts"][0] == json{{"Type", "bind"},
                                  {"Source", "/run/gantry/r1"},
                                  {"Target", "/run/gantry"},
                                  {"ReadOnly", false}});
  CHECK(host["Mounts"][1]["Type"] == "tmpfs");
  CHECK(host["Mounts"][1]["TmpfsOptions"]["SizeBytes"] == 64 << 20);
  // Published ports bind to loopback only, on a port the engine picks.
  CHECK(host["PortBindings"]["8080/tcp"][0] == json{{"HostIp", "127.0.0.1"}, {"HostPort", ""}});
}

TEST_CASE("an empty spec sends only the image and no limits", "[docker][requests]") {
  json body = ContainerCreateBody(ContainerSpec{.image = "x"});
  CHECK(body["Image"] == "x");
  CHECK_FALSE(body.contains("Cmd"));
  CHECK_FALSE(body["HostConfig"].contains("Memory"));
  CHECK_FALSE(body["HostConfig"].contains("Mounts"));
  CHECK_FALSE(body["HostConfig"].contains("LogConfig"));
}

TEST_CASE("label filters are encoded as the engine's filters JSON", "[docker][requests]") {
  HttpRequest r = ContainerListRequest({"gantry.test=run1", "gantry.function"}, true);
  CHECK(r.path == "/containers/json");
  CHECK(QueryValue(r, "all") == "1");
  CHECK(json::parse(QueryValue(r, "filters")) ==
        json{{"label", {"gantry.test=run1", "gantry.function"}}});
  CHECK(EncodeQuery(r.query) ==
        "all=1&filters=%7B%22label%22%3A%5B%22gantry.test%3Drun1%22%2C%22gantry.function%22%5D%7D");
}

TEST_CASE("stream requests carry their options", "[docker][requests]") {
  HttpRequest logs = ContainerLogsRequest(
      "abc", {.follow = true, .stderr_stream = false, .since_unix = 1700000000, .tail = 10});
  CHECK(logs.path == "/containers/abc/logs");
  CHECK(QueryValue(logs, "follow") == "1");
  CHECK(QueryValue(logs, "stdout") == "1");
  CHECK(QueryValue(logs, "stderr") == "0");
  CHECK(QueryValue(logs, "since") == "1700000000");
  CHECK(QueryValue(logs, "tail") == "10");
  CHECK(logs.timeout.count() == 0);  // a followed stream has no time limit

  HttpRequest events =
      EventsRequest({.labels = {"gantry.test=x"}, .types = {"container"}, .since_unix = 1.5});
  CHECK(QueryValue(events, "since") == "1.500000000");
  CHECK(json::parse(QueryValue(events, "filters")) ==
        json{{"label", {"gantry.test=x"}}, {"type", {"container"}}});

  HttpRequest stop = ContainerStopRequest("abc", 2);
  CHECK(stop.path == "/containers/abc/stop");
  CHECK(QueryValue(stop, "t") == "2");
  CHECK(stop.timeout > std::chrono::seconds(2));

  HttpRequest rm = ContainerRemoveRequest("abc", {.force = true, .volumes = true});
  CHECK(rm.method == "DELETE");
  CHECK(QueryValue(rm, "force") == "1");
  CHECK(QueryValue(rm, "v") == "1");
}

TEST_CASE("network requests", "[docker][requests]") {
  NetworkSpec spec{.name = "gantry-aaaa1111",
                   .labels = {{"gantry.instance", "aaaa1111"}},
                   .options = {{"com.docker.network.bridge.enable_icc", "false"}}};
  HttpRequest create = NetworkCreateRequest(spec);
  CHECK(create.Describe() == "POST /networks/create");
  CHECK(create.content_type == "application/json");
  json body = json::parse(create.body);
  CHECK(body == json{{"Name", "gantry-aaaa1111"},
                     {"Driver", "bridge"},
                     {"CheckDuplicate", true},
                     {"Labels", {{"gantry.instance", "aaaa1111"}}},
                     {"Options", {{"com.docker.network.bridge.enable_icc", "false"}}}});
  spec.internal = true;
  CHECK(NetworkCreateBody(spec).at("Internal") == true);

  CHECK(NetworkInspectRequest("gantry-a/b").Describe() == "GET /networks/gantry-a%2Fb");
  CHECK(NetworkRemoveRequest("n1").Describe() == "DELETE /networks/n1");
  HttpRequest list = NetworkListRequest({"gantry.test=t1"});
  CHECK(list.Describe() == "GET /networks");
  CHECK(json::parse(QueryValue(list, "filters")) == json{{"label", {"gantry.test=t1"}}});
}

TEST_CASE("build and import requests", "[docker][requests]") {
  HttpRequest b = ImageBuildRequest({.tags = {"gantry/fn:1"}, .labels = {{"gantry.test", "x"}}});
  CHECK(b.path == "/build");
  CHECK(b.content_type == "application/x-tar");
  CHECK(QueryValue(b, "t") == "gantry/fn:1");
  CHECK(QueryValue(b, "pull") == "0");
  CHECK(json::parse(QueryValue(b, "labels")) == json{{"gantry.test", "x"}});
  CHECK(QueryValue(b, "dockerfile") == "<absent>");

  HttpRequest i = ImageImportRequest(
      {.repo = "gantry/base", .tag = "bookworm", .changes = {"CMD [\"/bin/sh\"]"}});
  CHECK(i.path == "/images/create");
  CHECK(QueryValue(i, "fromSrc") == "-");
  CHECK(QueryValue(i, "changes") == "CMD [\"/bin/sh\"]");
}

TEST_CASE("API version negotiation pins the engine's version within our range",
          "[docker][requests]") {
  CHECK(*NegotiateApiVersion("1.41") == "1.41");
  CHECK(*NegotiateApiVersion("1.47") == std::string(kMaxApiVersion));
  CHECK(*NegotiateApiVersion("2.0") == std::string(kMaxApiVersion));
  auto old = NegotiateApiVersion("1.39");
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code() == core::ErrorCode::kUnavailable);
  CHECK_FALSE(NegotiateApiVersion("garbage").ok());
  CHECK_FALSE(NegotiateApiVersion("1.").ok());
}

TEST_CASE("DOCKER_HOST forms", "[docker][requests]") {
  auto def = ParseDockerHost("");
  REQUIRE(def.ok());
  CHECK(def->unix_socket == "/var/run/docker.sock");
  CHECK(def->Describe() == "unix:///var/run/docker.sock");

  auto unix_host = ParseDockerHost("unix:///tmp/d.sock");
  REQUIRE(unix_host.ok());
  CHECK(unix_host->unix_socket == "/tmp/d.sock");

  auto tcp = ParseDockerHost("tcp://127.0.0.1:2375");
  REQUIRE(tcp.ok());
  CHECK(tcp->unix_socket.empty());
  CHECK(tcp->base_url == "http://127.0.0.1:2375");
  CHECK(tcp->Describe() == "tcp://127.0.0.1:2375");

  CHECK(ParseDockerHost("ssh://host").error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_FALSE(ParseDockerHost("unix://").ok());
}

}  // namespace
}  // namespace gantry::docker
