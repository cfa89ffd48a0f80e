#include "gateway/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/version.h"

namespace gantry::gateway {
namespace {

TEST_CASE("gateway: label values are escaped as Prometheus wants", "[gateway][metrics]") {
  Metrics m;
  m.RecordInvocation("default", "e\"c\\h\no", 200, 0.001, false);
  CHECK_THAT(m.Render(),
             Catch::Contains(R"(gantry_invocations_total{code="200",function="e\"c\\h\no",)"
                             R"(namespace="default"} 1)"
                             "\n"));
}

TEST_CASE("gateway: invocations render as counters and a cumulative histogram",
          "[gateway][metrics]") {
  Metrics m;
  m.RecordInvocation("default", "echo", 200, 0.003, true);
  m.RecordInvocation("default", "echo", 200, 0.02, false);
  m.RecordInvocation("default", "echo", 502, 100, false);  // beyond the last bucket
  CHECK(m.Invocations("default", "echo", 200) == 2);
  CHECK(m.Invocations("default", "echo", 502) == 1);
  CHECK(m.Invocations("default", "echo", 404) == 0);
  CHECK(m.Invocations("default", "echo") == 3);  // every code
  CHECK(m.Invocations("other", "echo", 200) == 0);
  CHECK(m.ColdStarts("default", "echo") == 1);
  std::string text = m.Render();
  const std::string l = R"(function="echo",namespace="default")";
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_invocations_total counter\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{code=\"200\"," + l + "} 2\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{code=\"502\"," + l + "} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_invocation_duration_seconds histogram\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l +
                                   ",le=\"0.001\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l +
                                   ",le=\"0.005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l +
                                   ",le=\"0.025\"} 2\n"));
  CHECK_THAT(text,
             Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l + ",le=\"60\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l +
                                   ",le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_sum{" + l + "} 100.023\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_count{" + l + "} 3\n"));
  CHECK_THAT(text, Catch::Contains("gantry_cold_starts_total{" + l + "} 1\n"));
}

TEST_CASE("gateway: a bucket bound is inclusive", "[gateway][metrics]") {
  Metrics m;
  m.RecordInvocation("ns", "f", 200, 0.005, false);
  CHECK_THAT(
      m.Render(),
      Catch::Contains(
          R"(gantry_invocation_duration_seconds_bucket{function="f",namespace="ns",le="0.005"} 1)"));
  CHECK_THAT(
      m.Render(),
      Catch::Contains(
          R"(gantry_invocation_duration_seconds_bucket{function="f",namespace="ns",le="0.0025"} 0)"));
}

// A daemon's metrics: a counter family of its own, and a gauge computed at each scrape.
class TestCollectable : public prometheus::Collectable {
 public:
  TestCollectable()
      : builds(prometheus::BuildCounter()
                   .Name("gantry_builds_total")
                   .Help("Image builds by result.")
                   .Register(registry)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    ++scrapes;
    auto families = registry.Collect();
    prometheus::ClientMetric ready;
    ready.label = {{"state", "ready"}};
    ready.gauge.value = 2;
    families.push_back(
        {"gantry_replicas", "Replicas by state.", prometheus::MetricType::Gauge, {ready}});
    return families;
  }

  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& builds;
  mutable int scrapes = 0;
};

TEST_CASE("gateway: daemon metrics are rendered after the gateway's, series sorted",
          "[gateway][metrics]") {
  Metrics m;
  auto daemon = std::make_shared<TestCollectable>();
  m.Register(daemon);
  m.RecordInvocation("default", "echo", 200, 0.001, false);
  daemon->builds.Add({{"result", "ok"}}).Increment(2);
  daemon->builds.Add({{"result", "failed"}}).Increment(3);
  std::string text = m.Render();
  CHECK(daemon->scrapes == 1);
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_builds_total counter\n"
                                   "gantry_builds_total{result=\"failed\"} 3\n"
                                   "gantry_builds_total{result=\"ok\"} 2\n"));
  CHECK_THAT(text, Catch::EndsWith("# HELP gantry_replicas Replicas by state.\n"
                                   "# TYPE gantry_replicas gauge\n"
                                   "gantry_replicas{state=\"ready\"} 2\n"));
  CHECK(text.find("gantry_cold_starts_total") < text.find("gantry_builds_total"));
}

TEST_CASE("gateway: metrics may be recorded from many threads, while scraped",
          "[gateway][metrics]") {
  Metrics m;
  std::atomic<bool> recording{true};
  // Scrapes merge each thread's tally as it goes: nothing may be lost or counted twice.
  std::thread scraper([&] {
    while (recording) m.Render();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        m.RecordInvocation("default", "f", t == 0 ? 500 : 200, 0.001, i % 10 == 0);
      }
    });
  }
  for (auto& t : threads) t.join();  // their tallies outlive them
  recording = false;
  scraper.join();
  CHECK(m.Invocations("default", "f", 200) == 3000);
  CHECK(m.Invocations("default", "f", 500) == 1000);
  CHECK(m.ColdStarts("default", "f") == 400);
  for (int scrape = 0; scrape < 2; ++scrape) {
    std::string text = m.Render();
    const std::string l = R"(function="f",namespace="default")";
    CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_count{" + l + "} 4000\n"));
    CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_bucket{" + l +
                                     ",le=\"0.001\"} 4000\n"));
    const std::string sum = "gantry_invocation_duration_seconds_sum{" + l + "} ";
    auto at = text.find(sum);
    REQUIRE(at != std::string::npos);
    CHECK(std::stod(text.substr(at + sum.size())) == Approx(4.0));
  }
}

TEST_CASE("gateway: a tracked function's series exist at zero before its first call",
          "[gateway][metrics]") {
  Metrics m;
  std::vector<std::pair<std::string, std::string>> deployed = {{"team", "web"}};
  m.TrackFunctions([&deployed] { return deployed; });
  const std::string l = R"(function="web",namespace="team")";
  std::string text = m.Render();
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{code=\"200\"," + l + "} 0\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocation_duration_seconds_count{" + l + "} 0\n"));
  CHECK_THAT(text, Catch::Contains("gantry_cold_starts_total{" + l + "} 0\n"));
  m.RecordInvocation("team", "web", 200, 0.01, true);
  m.RecordInvocation("team", "web", 500, 0.01, false);
  text = m.Render();
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{code=\"200\"," + l + "} 1\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{code=\"500\"," + l + "} 1\n"));
  CHECK_THAT(text, Catch::Contains("gantry_cold_starts_total{" + l + "} 1\n"));

  deployed.clear();  // deleted: its series go with the next scrape
  text = m.Render();
  CHECK_THAT(text, !Catch::Contains(l));
  CHECK(m.Invocations("team", "web", 200) == 0);
}

TEST_CASE("gateway: the same calls under OpenFaaS's metric names, by name.namespace and code",
          "[gateway][metrics]") {
  Metrics m;
  std::vector<std::pair<std::string, std::string>> deployed = {{"team", "web"}};
  m.TrackFunctions([&deployed] { return deployed; });
  for (int i = 0; i < 3; ++i) m.RecordStarted("team", "web");
  m.RecordInvocation("team", "web", 200, 0.003, true);
  m.RecordInvocation("team", "web", 200, 0.02, false);
  m.RecordInvocation("team", "web", 502, 2, false);
  std::string text = m.Render();
  const std::string fn = R"(function_name="web.team")";
  CHECK_THAT(text, Catch::Contains("# TYPE gateway_function_invocation_total counter\n"));
  CHECK_THAT(text,
             Catch::Contains("gateway_function_invocation_total{code=\"200\"," + fn + "} 2\n"));
  CHECK_THAT(text,
             Catch::Contains("gateway_function_invocation_total{code=\"502\"," + fn + "} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE gateway_functions_seconds histogram\n"));
  CHECK_THAT(text, Catch::Contains("gateway_functions_seconds_count{code=\"200\"," + fn + "} 2\n"));
  CHECK_THAT(text, Catch::Contains("gateway_functions_seconds_bucket{code=\"200\"," + fn +
                                   ",le=\"0.005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("gateway_functions_seconds_bucket{code=\"502\"," + fn +
                                   ",le=\"1\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("gateway_function_invocation_started{" + fn + "} 3\n"));
  // Gantry's own histogram counts every code.
  CHECK_THAT(text,
             Catch::Contains(
                 R"(gantry_invocation_duration_seconds_count{function="web",namespace="team"} 3)"
                 "\n"));
  deployed.clear();  // deleted: the OpenFaaS series go too
  CHECK_THAT(m.Render(), !Catch::Contains(fn));
}

TEST_CASE("gateway: an untracked function's series are kept as before", "[gateway][metrics]") {
  Metrics m;
  m.TrackFunctions([] { return std::vector<std::pair<std::string, std::string>>{}; });
  m.RecordInvocation("default", "gone", 404, 0.001, false);
  std::string text = m.Render();
  CHECK_THAT(text,
             Catch::Contains(
                 R"(gantry_invocations_total{code="404",function="gone",namespace="default"} 1)"));
  CHECK_THAT(text, !Catch::Contains(R"(code="200",function="gone")"));
}

TEST_CASE("gateway: gantry_build_info names the version, revision and compiler",
          "[gateway][metrics]") {
  Metrics m;
  std::string text = m.Render();
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_build_info gauge\n"));
  CHECK_THAT(text, Catch::Contains("gantry_build_info{compiler=\"" + std::string(core::kCompiler) +
                                   "\",revision=\"" + std::string(core::Revision()) +
                                   "\",version=\"" + std::string(core::kVersion) + "\"} 1\n"));
  CHECK(!core::Revision().empty());
}

}  // namespace
}  // namespace gantry::gateway
