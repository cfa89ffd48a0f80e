#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sharded.h"

namespace gantry::gateway {

// The gateway's metrics, and the daemon's registered with it, on prometheus-cpp. Exposed at
// GET /metrics in the Prometheus text format (0.0.4, prometheus::TextSerializer):
//   gantry_invocations_total{code,function,namespace}            counter
//   gantry_invocation_duration_seconds{function,namespace}       histogram (kDurationBuckets)
//   gantry_cold_starts_total{function,namespace}                 counter
//   gantry_build_info{compiler,revision,version}                 gauge, always 1
// and the same calls under OpenFaaS's gateway names, so its dashboards and alerts work:
//   gateway_function_invocation_total{code,function_name}        counter ("name.namespace")
//   gateway_functions_seconds{code,function_name}                histogram (kDurationBuckets)
//   gateway_function_invocation_started{function_name}           counter
// then what each registered Collectable collects, in registration order. Within a family,
// series are sorted by their labels, so the text is stable. Thread-safe.
//
// RecordInvocation is on every call's path, on every io thread: it only adds to the calling
// thread's own tally (core::Sharded: no lock another io thread takes); the tallies are
// merged into the prometheus-cpp series when they are read (Render, Invocations,
// ColdStarts), off the call path.
//
// A function's series appear with its first call, or, for the deployed functions that
// TrackFunctions lists, at zero from the scrape after it is deployed (code="200", the
// histogram, cold starts), so that increase() sees its first calls; they go with the
// scrape after it no longer is.
class Metrics {
 public:
  static constexpr std::array<double, 15> kDurationBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Records one finished invocation: the status sent to the caller and its duration. A
  // function's series (its histogram, its cold starts at 0) appear with its first call.
  void RecordInvocation(std::string_view ns, std::string_view function, int code, double seconds,
                        bool cold_start);
  // Records that a call of the function starts (gateway_function_invocation_started).
  void RecordStarted(std::string_view ns, std::string_view function);

  // The functions deployed now, as (namespace, name); asked at every scrape (on an io
  // thread: quick, in-memory, never blocking for long). Replaces any earlier lister.
  using FunctionLister = std::function<std::vector<std::pair<std::string, std::string>>()>;
  void TrackFunctions(FunctionLister deployed);

  // Adds metrics of the daemon's (builds, replicas by state, ...): `metrics` is collected
  // at every scrape, on an io thread, so its Collect() must be quick and never block for
  // long (in-memory state; short locks).
  void Register(std::shared_ptr<prometheus::Collectable> metrics);

  // The whole exposition text (first bringing the tracked functions' series up to date).
  std::string Render();

  // For tests and logs: the count of invocations with this code (0 if none).
  std::uint64_t Invocations(std::string_view ns, std::string_view function, int code);
  // Every code's (what OpenFaaS reports as invocationCount).
  std::uint64_t Invocations(std::string_view ns, std::string_view function);
  std::uint64_t ColdStarts(std::string_view ns, std::string_view function);

 private:
  // One function's series, created with its first call (the families own them).
  struct Series {
    std::map<int, prometheus::Counter*> codes;
    prometheus::Histogram* duration = nullptr;
    prometheus::Counter* cold_starts = nullptr;
    // OpenFaaS's names: by code, the counter and the histogram.
    std::map<int, std::pair<prometheus::Counter*, prometheus::Histogram*>> of_codes;
    prometheus::Counter* of_started = nullptr;
  };
  using Key = std::pair<std::string, std::string>;  // (namespace, function)
  using KeyView = std::pair<std::string_view, std::string_view>;
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return KeyView(a.first, a.second) < KeyView(b.first, b.second);
    }
  };

  // One thread's calls of one function since the last merge.
  struct CodeTally {
    std::uint64_t calls = 0;
    std::array<double, kDurationBuckets.size() + 1> buckets{};  // the last one is +Inf
    double sum = 0;
  };
  struct Tally {
    std::map<int, CodeTally> codes;
    std::uint64_t cold_starts = 0;
    std::uint64_t started = 0;
  };
  using Tallies = std::map<Key, Tally, KeyLess>;

  // Adds every thread's tallies to the series, and empties them. mu_ held.
  void MergeLocked();
  const Series* Find(std::string_view ns, std::string_view function) const;  // mu_ held
  // The function's histogram and cold starts, created at zero when missing. mu_ held.
  Series& Ensure(std::string_view ns, std::string_view function);
  // The counter of `code` in `s`, created when missing. mu_ held.
  prometheus::Counter& Code(Series& s, std::string_view ns, std::string_view function, int code);
  // OpenFaaS's counter and histogram of `code` in `s`, created when missing. mu_ held.
  std::pair<prometheus::Counter*, prometheus::Histogram*> OpenFaasCode(Series& s,
                                                                       std::string_view ns,
                                                                       std::string_view function,
                                                                       int code);
  // Makes the tracked series those of `deployed`: creates the missing, removes the series
  // of functions tracked before and gone now. mu_ held.
  void Sync(const std::vector<std::pair<std::string, std::string>>& deployed);

  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& invocations_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& cold_starts_;
  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Counter>& of_invocations_;
  prometheus::Family<prometheus::Histogram>& of_seconds_;
  prometheus::Family<prometheus::Counter>& of_started_;
  core::Sharded<Tallies> tallies_;  // each io thread's own; merged under mu_
  mutable std::mutex mu_;
  std::map<Key, Series, KeyLess> series_;  // guarded by mu_
  FunctionLister lister_;                  // guarded by mu_
  std::set<Key, KeyLess> tracked_;         // deployed at the last scrape; guarded by mu_
  std::vector<std::shared_ptr<prometheus::Collectable>> collected_;  // guarded by mu_
};

}  // namespace gantry::gateway
