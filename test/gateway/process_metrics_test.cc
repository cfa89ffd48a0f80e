#include "gateway/process_metrics.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "gateway/metrics.h"

namespace gantry::gateway {
namespace {

// A real line of /proc/<pid>/stat, with a command name that holds ") " to mislead.
constexpr const char* kStat =
    "4242 (gan) try d) S 1 4242 4242 0 -1 4194560 2195 0 0 0 250 50 0 0 20 0 7 0 12000 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 "
    "0 0 0\n";

TEST_CASE("process metrics: /proc/<pid>/stat fields in Prometheus's units", "[gateway][metrics]") {
  auto stat = ParseProcStat(kStat, 100, 1'700'000'000, 4096);
  REQUIRE(stat.has_value());
  CHECK(stat->cpu_seconds == Approx(3.0));  // (250 + 50) ticks / 100
  CHECK(stat->threads == 7);
  CHECK(stat->start_time_seconds == Approx(1'700'000'120.0));
  CHECK(stat->virtual_bytes == 104'857'600);
  CHECK(stat->resident_bytes == 2560 * 4096);
  CHECK_FALSE(ParseProcStat("4242 (x) S 1 2", 100, 0, 4096).has_value());
  CHECK_FALSE(ParseProcStat("garbage", 100, 0, 4096).has_value());
  CHECK(ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n") == Approx(1'700'000'000));
  CHECK_FALSE(ParseBootTime("cpu 1 2 3\n").has_value());
}

TEST_CASE("process metrics: read from the proc directory at each scrape", "[gateway][metrics]") {
  char dir[] = "/tmp/gantry-process-metrics.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::filesystem::path root(dir);
  std::filesystem::create_directories(root / "self" / "fd");
  std::ofstream(root / "self" / "stat") << kStat;
  std::ofstream(root / "stat") << "cpu 1 2 3\nbtime 1700000000\n";
  for (const char* fd : {"0", "1", "2"}) std::ofstream(root / "self" / "fd" / fd) << "";
  Metrics m;
  m.Register(std::make_shared<ProcessMetrics>((root / "self").string(), root.string()));
  std::string text = m.Render();
  CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter\n"
                                   "process_cpu_seconds_total 3\n"));
  CHECK_THAT(text, Catch::Contains("process_start_time_seconds 1700000120\n"));
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes 10485760\n"));
  CHECK_THAT(text, Catch::Contains("process_virtual_memory_bytes 104857600\n"));
  CHECK_THAT(text, Catch::Contains("process_open_fds 3\n"));
  CHECK_THAT(text, Catch::Contains("process_threads 7\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE process_max_fds gauge\n"));
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
}

TEST_CASE("process metrics: this process's own", "[gateway][metrics]") {
  Metrics m;
  m.Register(std::make_shared<ProcessMetrics>());
  std::string text = m.Render();
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(text, Catch::Contains("process_open_fds "));
  CHECK_THAT(text, Catch::Contains("process_threads "));
  CHECK_THAT(text, Catch::Contains("process_start_time_seconds "));
}

}  // namespace
}  // namespace gantry::gateway
