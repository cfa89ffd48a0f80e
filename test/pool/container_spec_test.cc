#include "pool/container_spec.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

Deployment Function() {
  Deployment d;
  d.namespace_name = "team-a";
  d.name = "resize";
  d.generation = 7;
  d.image = "gantry/fn-team-a-resize:abc";
  d.env = {{"GREETING", "hi"}};
  d.secrets = {{"db-password", "x"}};
  d.memory_bytes = 64 << 20;
  d.nano_cpus = 250'000'000;
  d.pids_limit = 64;
  d.concurrency = 8;
  d.timeout = 1500ms;
  return d;
}

const docker::Mount* MountAt(const docker::ContainerSpec& spec, const std::string& target) {
  auto it = std::find_if(spec.mounts.begin(), spec.mounts.end(),
                         [&](const auto& m) { return m.target == target; });
  return it == spec.mounts.end() ? nullptr : &*it;
}

bool HasEnv(const docker::ContainerSpec& spec, const std::string& entry) {
  return std::find(spec.env.begin(), spec.env.end(), entry) != spec.env.end();
}

TEST_CASE("pool: a runtime-api replica gets the Lambda environment of its deployment", "[pool]") {
  Deployment d = Function();
  d.runtime_api = true;
  auto spec = ReplicaContainerSpec(d, "r1", PathsFor("/run/g", "r1"), {}, 2);
  CHECK(HasEnv(spec, "AWS_LAMBDA_FUNCTION_NAME=resize"));
  CHECK(HasEnv(spec, "AWS_LAMBDA_FUNCTION_VERSION=7"));
  CHECK(HasEnv(spec, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=64"));
  CHECK(HasEnv(spec, "GANTRY_MAX_INFLIGHT=8"));  // the shim's handler count

  Deployment exec = Function();
  auto plain = ReplicaContainerSpec(exec, "r1", PathsFor("/run/g", "r1"), {}, 2);
  CHECK_FALSE(HasEnv(plain, "AWS_LAMBDA_FUNCTION_NAME=resize"));
}

TEST_CASE("pool: a shim replica runs locked down with its socket directory and secrets mounted",
          "[pool]") {
  ReplicaPaths paths = PathsFor("/run/g", "r0123456789");
  CHECK(paths.SocketPath() == "/run/g/r0123456789/sock/shim.sock");
  auto spec = ReplicaContainerSpec(Function(), "r0123456789", paths, {{"gantry.test", "t1"}}, 2, {},
                                   "gantry-i1");

  CHECK(spec.name == "gantry-team-a-resize-r0123456789");
  CHECK(spec.image == "gantry/fn-team-a-resize:abc");
  CHECK(spec.labels == docker::Labels{{"gantry.function", "resize"},
                                      {"gantry.namespace", "team-a"},
                                      {"gantry.generation", "7"},
                                      {"gantry.replica", "r0123456789"},
                                      {"gantry.test", "t1"}});
  CHECK(spec.user.empty());  // the image's own (non-root) user
  CHECK(spec.security_opt == std::vector<std::string>{"no-new-privileges"});
  CHECK(spec.cap_drop == std::vector<std::string>{"ALL"});
  CHECK(spec.read_only_rootfs);
  CHECK(spec.memory_bytes == 64 << 20);
  CHECK(spec.nano_cpus == 250'000'000);
  CHECK(spec.pids_limit == 64);
  CHECK(spec.stop_timeout_seconds == 2);
  CHECK(spec.network_mode ==
        "gantry-i1");  // the pool's network: out to anywhere, not to neighbours
  CHECK(spec.ports.empty());
  CHECK(HasEnv(spec, "GREETING=hi"));
  CHECK(HasEnv(spec, "GANTRY_TIMEOUT=1500ms"));
  CHECK(HasEnv(spec, "GANTRY_MAX_INFLIGHT=8"));
  // The shim takes the gateway's body limit, so a big request is a 413, not a dead replica.
  CHECK(HasEnv(spec, "GANTRY_MAX_BODY=" + std::to_string(64 << 20)));
  // Bounded logs: one call printing without end can't fill the engine's disk.
  CHECK(spec.log_driver == "json-file");
  CHECK(spec.log_options ==
        std::map<std::string, std::string>{{"max-size", "10m"}, {"max-file", "3"}});

  const docker::Mount* tmp = MountAt(spec, "/tmp");
  REQUIRE(tmp != nullptr);
  CHECK(tmp->type == docker::Mount::Type::kTmpfs);
  const docker::Mount* sock = MountAt(spec, "/run/gantry");
  REQUIRE(sock != nullptr);
  CHECK(sock->source == "/run/g/r0123456789/sock");
  CHECK_FALSE(sock->read_only);
  // The secrets directory, not each file: a file mount would pin the first value's inode.
  for (const char* target : {"/var/gantry/secrets", "/var/openfaas/secrets"}) {
    const docker::Mount* secret = MountAt(spec, target);
    REQUIRE(secret != nullptr);
    CHECK(secret->type == docker::Mount::Type::kBind);
    CHECK(secret->source == "/run/g/r0123456789/secrets");
    CHECK(secret->read_only);
  }
  CHECK(MountAt(spec, "/var/gantry/secrets/db-password") == nullptr);
}

TEST_CASE("pool: a replica without secrets mounts no secrets directory", "[pool]") {
  Deployment d = Function();
  d.secrets.clear();
  auto spec = ReplicaContainerSpec(d, "r0123456789", PathsFor("/run/g", "r0123456789"), {}, 2);
  CHECK(MountAt(spec, "/var/gantry/secrets") == nullptr);
  CHECK(MountAt(spec, "/var/openfaas/secrets") == nullptr);
}

TEST_CASE("pool: an image serving HTTP itself is published on 127.0.0.1 only", "[pool]") {
  Deployment d = Function();
  d.http_port = 8080;
  d.secrets.clear();
  auto spec = ReplicaContainerSpec(d, "r0123456789", PathsFor("/run/g", "r0123456789"), {}, 2, {},
                                   "gantry-i1");
  CHECK(spec.network_mode == "gantry-i1");
  REQUIRE(spec.ports.size() == 1);
  CHECK(spec.ports[0].container_port == 8080);
  CHECK(spec.ports[0].host_ip == "127.0.0.1");
  CHECK(spec.ports[0].host_port == 0);
  CHECK(MountAt(spec, "/run/gantry") == nullptr);
  CHECK_FALSE(HasEnv(spec, "GANTRY_MAX_INFLIGHT=8"));
  CHECK(spec.read_only_rootfs);
  CHECK(spec.cap_drop == std::vector<std::string>{"ALL"});
  CHECK(spec.log_options.at("max-size") == "10m");  // bounded logs for every container
}

TEST_CASE("pool: network none keeps a shim replica on loopback only, socket still mounted",
          "[pool]") {
  Deployment d = Function();
  d.network = NetworkAccess::kNone;
  auto spec = ReplicaContainerSpec(d, "r0123456789", PathsFor("/run/g", "r0123456789"), {}, 2, {},
                                   "gantry-i1");
  CHECK(spec.network_mode == "none");
  CHECK(spec.ports.empty());
  const docker::Mount* sock = MountAt(spec, "/run/gantry");
  REQUIRE(sock != nullptr);
  CHECK(sock->source == "/run/g/r0123456789/sock");
}

TEST_CASE("pool: the log rotation limits are the pool's to choose", "[pool]") {
  auto spec = ReplicaContainerSpec(Function(), "r0123456789", PathsFor("/run/g", "r0123456789"), {},
                                   2, {.max_size = "512k", .max_files = 2});
  CHECK(spec.log_driver == "json-file");
  CHECK(spec.log_options ==
        std::map<std::string, std::string>{{"max-size", "512k"}, {"max-file", "2"}});
}

TEST_CASE("pool: extra labels never override the pool's own", "[pool]") {
  auto labels =
      ReplicaLabels(Function(), "r0123456789", {{"gantry.generation", "1"}, {"team", "web"}});
  CHECK(labels.at("gantry.generation") == "7");
  CHECK(labels.at("team") == "web");
}

TEST_CASE("pool: call timeouts are written the way gantry-shim reads them", "[pool]") {
  CHECK(ShimDuration(30s) == "30s");
  CHECK(ShimDuration(250ms) == "250ms");
  CHECK(ShimDuration(90'500ms) == "90500ms");
}

}  // namespace
}  // namespace gantry::pool
