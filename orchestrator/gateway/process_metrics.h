#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gateway {

// What /proc/<pid>/stat says about a process, in the units of the Prometheus metrics.
struct ProcStat {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_bytes = 0;
  std::int64_t threads = 0;
};

// Parses the text of /proc/<pid>/stat (proc(5)): `ticks_per_second` is sysconf(_SC_CLK_TCK),
// `boot_time_seconds` the btime of /proc/stat, `page_size` sysconf(_SC_PAGESIZE). nullopt
// when the text is not a stat line (the command name, in parentheses, may hold anything,
// so the fields are counted after its last ')').
std::optional<ProcStat> ParseProcStat(std::string_view text, double ticks_per_second,
                                      double boot_time_seconds, std::uint64_t page_size);

// The btime line of /proc/stat's text; nullopt without one.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// Prometheus's standard process metrics of this process, read from /proc/self at each
// scrape (a few small reads: quick):
//   process_cpu_seconds_total, process_start_time_seconds, process_virtual_memory_bytes,
//   process_resident_memory_bytes, process_open_fds, process_max_fds, process_threads
// A value that can't be read is left out of that scrape. Thread-safe.
class ProcessMetrics : public prometheus::Collectable {
 public:
  // Reads <proc_self>/stat, <proc_self>/fd/ and (once, for the boot time) <proc_root>/stat;
  // tests point them at directories of their own.
  explicit ProcessMetrics(std::string proc_self = "/proc/self", std::string proc_root = "/proc");

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string proc_self_;
  std::string proc_root_;
  double boot_time_seconds_ = 0;  // read once
};

}  // namespace gantry::gateway
