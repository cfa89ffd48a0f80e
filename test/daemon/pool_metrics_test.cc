#include "daemon/pool_metrics.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "gateway/metrics.h"
#include "support/fake_docker_client.h"

namespace gantry::daemon {
namespace {

TEST_CASE("pool metrics: builds by outcome, replicas by state and queue depth per function",
          "[daemon][metrics]") {
  char dir[] = "/tmp/gantry-pool-metrics-unit.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  testing::FakeDockerClient docker;
  {
    pool::Pool pool(docker, {.run_dir = std::string(dir) + "/run",
                             .control_loop = false,
                             .watch_events = false,
                             .socket_dir_bytes = 0});  // a unit test mounts nothing
    REQUIRE(pool.Start({}).ok());
    REQUIRE(pool.Apply({.namespace_name = "team", .name = "web", .image = "web:1"}).ok());
    auto metrics = std::make_shared<PoolMetrics>(pool);
    metrics->CountBuild("built");
    metrics->CountBuild("built");
    metrics->CountBuild("cached");
    gateway::Metrics exposed;
    exposed.Register(metrics);
    std::string text = exposed.Render();
    CHECK_THAT(text, Catch::Contains("# TYPE gantry_builds_total counter\n"
                                     "gantry_builds_total{outcome=\"built\"} 2\n"
                                     "gantry_builds_total{outcome=\"cached\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE gantry_replicas gauge\n"
                                     "gantry_replicas{namespace=\"team\",function=\"web\","
                                     "state=\"ready\"} 0\n"
                                     "gantry_replicas{namespace=\"team\",function=\"web\","
                                     "state=\"starting\"} 0\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE gantry_invocations_in_flight gauge\n"
                                     "gantry_invocations_in_flight{namespace=\"team\","
                                     "function=\"web\"} 0\n"));
    CHECK_THAT(text,
               Catch::Contains("# TYPE gantry_queue_depth gauge\n"
                               "gantry_queue_depth{namespace=\"team\",function=\"web\"} 0\n"));
    // OpenFaaS's name for the ready replicas, last.
    CHECK_THAT(text, Catch::EndsWith("# TYPE gateway_service_count gauge\n"
                                     "gateway_service_count{function_name=\"web.team\"} 0\n"));
    pool.Stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace gantry::daemon
