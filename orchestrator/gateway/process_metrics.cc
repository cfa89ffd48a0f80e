#include "gateway/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gantry::gateway {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

prometheus::MetricFamily One(std::string name, std::string help, prometheus::MetricType type,
                             double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {m}};
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text, double ticks_per_second,
                                      double boot_time_seconds, std::uint64_t page_size) {
  std::size_t close = text.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  // Fields after the command, numbered as in proc(5): 3 is the state.
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    std::size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  auto field = [&](std::size_t n) -> std::optional<std::uint64_t> {
    if (n < 3 || n - 3 >= fields.size()) return std::nullopt;
    std::string_view f = fields[n - 3];
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || ptr != f.data() + f.size()) return std::nullopt;
    return v;
  };
  auto utime = field(14), stime = field(15), threads = field(20), start = field(22),
       vsize = field(23), rss = field(24);
  if (!utime || !stime || !threads || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{
      .cpu_seconds = static_cast<double>(*utime + *stime) / ticks_per_second,
      .start_time_seconds = boot_time_seconds + static_cast<double>(*start) / ticks_per_second,
      .virtual_bytes = *vsize,
      .resident_bytes = *rss * page_size,
      .threads = static_cast<std::int64_t>(*threads)};
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  std::size_t at = proc_stat.find("\nbtime ");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view v = proc_stat.substr(at + 7);
  std::uint64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || ptr == v.data()) return std::nullopt;
  return static_cast<double>(seconds);
}

ProcessMetrics::ProcessMetrics(std::string proc_self, std::string proc_root)
    : proc_self_(std::move(proc_self)), proc_root_(std::move(proc_root)) {
  if (auto stat = ReadFile(proc_root_ + "/stat")) {
    boot_time_seconds_ = ParseBootTime(*stat).value_or(0);
  }
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  auto text = ReadFile(proc_self_ + "/stat");
  auto stat =
      text ? ParseProcStat(*text, static_cast<double>(::sysconf(_SC_CLK_TCK)), boot_time_seconds_,
                           static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)))
           : std::nullopt;
  if (stat) {
    families.push_back(One("process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.", MetricType::Counter,
                           stat->cpu_seconds));
    if (boot_time_seconds_ > 0) {
      families.push_back(One("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             MetricType::Gauge, stat->start_time_seconds));
    }
    families.push_back(One("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                           MetricType::Gauge, static_cast<double>(stat->virtual_bytes)));
    families.push_back(One("process_resident_memory_bytes", "Resident memory size in bytes.",
                           MetricType::Gauge, static_cast<double>(stat->resident_bytes)));
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc_self_ + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    // Counts the directory's own descriptor too while it reads, as Prometheus's clients do.
    families.push_back(One("process_open_fds", "Number of open file descriptors.",
                           MetricType::Gauge, static_cast<double>(fds)));
  }
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(One("process_max_fds", "Maximum number of open file descriptors.",
                           MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  if (stat) {
    families.push_back(One("process_threads", "Number of OS threads in the process.",
                           MetricType::Gauge, static_cast<double>(stat->threads)));
  }
  return families;
}

}  // namespace gantry::gateway
