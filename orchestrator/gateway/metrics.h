#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gateway {

// Prometheus text exposition format (version 0.0.4) helpers, for the gateway's own metrics
// and for collectors the daemon registers.

struct Label {
  std::string_view name;
  std::string_view value;
};

// Escapes a label value: backslash, double quote and newline become \\, \" and \n.
std::string EscapeLabelValue(std::string_view value);
// Escapes HELP text: backslash and newline become \\ and \n.
std::string EscapeHelp(std::string_view help);
// A sample value: shortest round-trip form ("1", "0.25"), "+Inf", "-Inf" or "NaN".
std::string FormatValue(double value);
// Appends "# HELP <name> <help>\n# TYPE <name> <type>\n".
void AppendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type);
// Appends `name{a="x",b="y"} value\n` (no braces without labels).
void AppendSample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
                  double value);
void AppendSample(std::string& out, std::string_view name, const std::vector<Label>& labels,
                  double value);

// A counter with fixed label names, incremented by the daemon (builds by result, ...).
// Thread-safe.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);

  // Adds `delta` to the series with these label values, one per label name in order
  // (missing values are empty, extra ones ignored).
  void Add(std::initializer_list<std::string_view> values, double delta = 1);
  // The current value of a series; 0 if it was never added to.
  double Value(std::initializer_list<std::string_view> values) const;
  void Render(std::string& out) const;

 private:
  std::vector<std::string> Key(std::initializer_list<std::string_view> values) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, double> series_;  // guarded by mu_
};

// The gateway's metrics and the registry of the daemon's. Exposed at GET /metrics:
//   gantry_invocations_total{namespace,function,code}        counter
//   gantry_invocation_duration_seconds{namespace,function}   histogram
//   gantry_cold_starts_total{namespace,function}             counter
// then every CounterFamily and every collector's output, in registration order.
// Thread-safe.
class Metrics {
 public:
  static constexpr std::array<double, 15> kDurationBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  // Records one finished invocation: the status sent to the caller and its duration.
  void RecordInvocation(std::string_view ns, std::string_view function, int code, double seconds,
                        bool cold_start);

  // Registers a counter; the reference stays valid as long as this Metrics.
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names);

  // Registers a function called at every scrape that appends complete metric families
  // (use AppendHeader and AppendSample) for values computed then: replicas by state, queue
  // depth. It runs on a worker thread and may take locks, but should be quick.
  void AddCollector(std::function<void(std::string& out)> collector);

  // The whole exposition text.
  std::string Render() const;

  // For tests and logs: the count of invocations with this code (0 if none).
  std::uint64_t Invocations(std::string_view ns, std::string_view function, int code) const;
  std::uint64_t ColdStarts(std::string_view ns, std::string_view function) const;

 private:
  struct FunctionStats {
    std::map<int, std::uint64_t> codes;
    std::array<std::uint64_t, kDurationBuckets.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum = 0;
    std::uint64_t cold_starts = 0;
  };
  // (namespace, function), ordered for a stable exposition.
  using Key = std::pair<std::string, std::string>;
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.first != b.first) return std::string_view(a.first) < std::string_view(b.first);
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  using KeyView = std::pair<std::string_view, std::string_view>;

  mutable std::mutex mu_;
  std::map<Key, FunctionStats, KeyLess> functions_;  // guarded by mu_
  std::deque<CounterFamily> counters_;  // guarded by mu_ (deque: references stay valid)
  std::vector<std::function<void(std::string&)>> collectors_;  // guarded by mu_
};

}  // namespace gantry::gateway
