#include "gateway/metrics.h"

#include <catch2/catch.hpp>
#include <thread>

namespace gantry::gateway {
namespace {

TEST_CASE("gateway: label values and help text are escaped as Prometheus wants",
          "[gateway][metrics]") {
  CHECK(EscapeLabelValue(R"(a"b\c)"
                         "\n") == R"(a\"b\\c\n)");
  CHECK(EscapeHelp("a\\b\n\"q\"") == R"(a\\b\n"q")");
  CHECK(FormatValue(1) == "1");
  CHECK(FormatValue(0.25) == "0.25");
  CHECK(FormatValue(1e21) == "1e+21");
  CHECK(FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatValue(std::nan("")) == "NaN");
  std::string out;
  AppendHeader(out, "gantry_x", "Line one\nline two", "gauge");
  AppendSample(out, "gantry_x", {{"function", "e\"cho"}, {"state", "ready"}}, 3);
  AppendSample(out, "gantry_y", {}, 0.5);
  CHECK(out ==
        "# HELP gantry_x Line one\\nline two\n"
        "# TYPE gantry_x gauge\n"
        "gantry_x{function=\"e\\\"cho\",state=\"ready\"} 3\n"
        "gantry_y 0.5\n");
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
  CHECK(m.Invocations("other", "echo", 200) == 0);
  CHECK(m.ColdStarts("default", "echo") == 1);
  std::string text = m.Render();
  const std::string l = R"(namespace="default",function="echo")";
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_invocations_total counter\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{" + l + ",code=\"200\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("gantry_invocations_total{" + l + ",code=\"502\"} 1\n"));
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
          R"(gantry_invocation_duration_seconds_bucket{namespace="ns",function="f",le="0.005"} 1)"));
  CHECK_THAT(
      m.Render(),
      Catch::Contains(
          R"(gantry_invocation_duration_seconds_bucket{namespace="ns",function="f",le="0.0025"} 0)"));
}

TEST_CASE("gateway: daemon counters and collectors are rendered after the gateway's",
          "[gateway][metrics]") {
  Metrics m;
  CounterFamily& builds =
      m.AddCounter("gantry_builds_total", "Image builds by result.", {"result"});
  builds.Add({"ok"});
  builds.Add({"ok"});
  builds.Add({"failed"}, 3);
  CHECK(builds.Value({"ok"}) == 2);
  CHECK(builds.Value({"cached"}) == 0);
  int scrapes = 0;
  m.AddCollector([&](std::string& out) {
    ++scrapes;
    AppendHeader(out, "gantry_replicas", "Replicas by state.", "gauge");
    AppendSample(out, "gantry_replicas", {{"state", "ready"}}, 2);
  });
  std::string text = m.Render();
  CHECK(scrapes == 1);
  CHECK_THAT(text, Catch::Contains("# TYPE gantry_builds_total counter\n"
                                   "gantry_builds_total{result=\"failed\"} 3\n"
                                   "gantry_builds_total{result=\"ok\"} 2\n"));
  CHECK_THAT(text, Catch::EndsWith("# HELP gantry_replicas Replicas by state.\n"
                                   "# TYPE gantry_replicas gauge\n"
                                   "gantry_replicas{state=\"ready\"} 2\n"));
}

TEST_CASE("gateway: metrics may be recorded from many threads", "[gateway][metrics]") {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.RecordInvocation("default", "f", 200, 0.001, i % 10 == 0);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(m.Invocations("default", "f", 200) == 4000);
  CHECK(m.ColdStarts("default", "f") == 400);
}

}  // namespace
}  // namespace gantry::gateway
