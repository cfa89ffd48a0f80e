#include "pool/replica_network.h"

#include <catch2/catch.hpp>

#include "support/fake_docker_client.h"

namespace gantry::pool {
namespace {

const docker::Labels kOurs = {{"gantry.instance", "aaaa1111"}, {"gantry.test", "t1"}};

TEST_CASE("pool network: named by the option, else by the instance, else the default bridge",
          "[pool]") {
  PoolOptions o;
  CHECK(ReplicaNetworkName(o) == "bridge");
  o.instance_id = "aaaa1111";
  CHECK(ReplicaNetworkName(o) == "gantry-aaaa1111");
  o.network = "fn-net";
  CHECK(ReplicaNetworkName(o) == "fn-net");
}

TEST_CASE("pool network: a bridge with inter-container traffic off, ports on loopback", "[pool]") {
  docker::NetworkSpec spec = ReplicaNetworkSpec("gantry-aaaa1111", kOurs);
  CHECK(spec.name == "gantry-aaaa1111");
  CHECK(spec.driver == "bridge");
  CHECK(spec.labels == kOurs);
  CHECK(spec.options.at("com.docker.network.bridge.enable_icc") == "false");
  CHECK(spec.options.at("com.docker.network.bridge.host_binding_ipv4") == "127.0.0.1");
  CHECK_FALSE(spec.internal);  // functions reach the outside world
}

TEST_CASE("pool network: created when missing, adopted when ours", "[pool]") {
  testing::FakeDockerClient docker;
  REQUIRE(EnsureReplicaNetwork(docker, "gantry-aaaa1111", kOurs).ok());
  auto networks = docker.networks();
  REQUIRE(networks.count("gantry-aaaa1111") == 1);
  CHECK(networks.at("gantry-aaaa1111").labels == kOurs);
  CHECK(networks.at("gantry-aaaa1111").options.at("com.docker.network.bridge.enable_icc") ==
        "false");

  // A restarted gantryd finds it and uses it as it is.
  REQUIRE(EnsureReplicaNetwork(docker, "gantry-aaaa1111", kOurs).ok());
  CHECK(docker.CountCalls("CreateNetwork") == 1);
  CHECK(docker.networks().size() == 1);
}

TEST_CASE("pool network: someone else's network of that name is a conflict, left alone", "[pool]") {
  testing::FakeDockerClient docker;
  REQUIRE(
      docker.CreateNetwork({.name = "gantry-aaaa1111", .labels = {{"gantry.instance", "bbbb2222"}}})
          .ok());
  auto s = EnsureReplicaNetwork(docker, "gantry-aaaa1111", kOurs);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == core::ErrorCode::kConflict);
  CHECK_THAT(s.error().message(),
             Catch::Contains("gantry-aaaa1111") && Catch::Contains("gantry.instance=aaaa1111"));
  CHECK(docker.CountCalls("RemoveNetwork") == 0);
  CHECK(docker.networks().at("gantry-aaaa1111").labels.at("gantry.instance") == "bbbb2222");
}

TEST_CASE("pool network: the engine's failures come back with the network named", "[pool]") {
  testing::FakeDockerClient docker;
  docker.FailCalls("CreateNetwork",
                   core::Error::InvalidArgument("could not find an available address pool"));
  auto s = EnsureReplicaNetwork(docker, "gantry-aaaa1111", kOurs);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(s.error().message(),
             Catch::Contains("create network gantry-aaaa1111") && Catch::Contains("address pool"));
}

TEST_CASE("pool network: the default bridge is the engine's, never created", "[pool]") {
  testing::FakeDockerClient docker;
  REQUIRE(EnsureReplicaNetwork(docker, "bridge", kOurs).ok());
  CHECK(docker.calls().empty());
}

}  // namespace
}  // namespace gantry::pool
