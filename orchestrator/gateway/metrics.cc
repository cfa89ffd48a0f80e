#include "gateway/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <set>
#include <string>

#include "core/version.h"

namespace gantry::gateway {
namespace {

// OpenFaaS labels a function "name.namespace".
std::string OpenFaasName(std::string_view ns, std::string_view function) {
  return std::string(function) + "." + std::string(ns);
}

const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets(Metrics::kDurationBuckets.begin(),
                                                                Metrics::kDurationBuckets.end());
  return kBuckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      invocations_(prometheus::BuildCounter()
                       .Name("gantry_invocations_total")
                       .Help("Invocations by function and HTTP status code.")
                       .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("gantry_invocation_duration_seconds")
                     .Help("Time from the request to the end of the response, through the "
                           "gateway.")
                     .Register(*registry_)),
      cold_starts_(prometheus::BuildCounter()
                       .Name("gantry_cold_starts_total")
                       .Help("Invocations that waited for a cold start.")
                       .Register(*registry_)),
      build_info_(prometheus::BuildGauge()
                      .Name("gantry_build_info")
                      .Help("The version, git revision and compiler of this build; always 1.")
                      .Register(*registry_)),
      of_invocations_(prometheus::BuildCounter()
                          .Name("gateway_function_invocation_total")
                          .Help("Invocations by function (name.namespace) and status code, "
                                "under OpenFaaS's name.")
                          .Register(*registry_)),
      of_seconds_(prometheus::BuildHistogram()
                      .Name("gateway_functions_seconds")
                      .Help("Invocation time by function (name.namespace) and status code, "
                            "under OpenFaaS's name.")
                      .Register(*registry_)),
      of_started_(prometheus::BuildCounter()
                      .Name("gateway_function_invocation_started")
                      .Help("Invocations started, by function (name.namespace), under "
                            "OpenFaaS's name.")
                      .Register(*registry_)) {
  build_info_
      .Add({{"version", std::string(core::kVersion)},
            {"revision", std::string(core::Revision())},
            {"compiler", std::string(core::kCompiler)}})
      .Set(1);
}

const Metrics::Series* Metrics::Find(std::string_view ns, std::string_view function) const {
  auto it = series_.find(KeyView{ns, function});
  return it == series_.end() ? nullptr : &it->second;
}

Metrics::Series& Metrics::Ensure(std::string_view ns, std::string_view function) {
  auto it = series_.find(KeyView{ns, function});
  if (it != series_.end()) return it->second;
  prometheus::Labels labels{{"namespace", std::string(ns)}, {"function", std::string(function)}};
  Series s{.duration = &durations_.Add(labels, Buckets()),
           .cold_starts = &cold_starts_.Add(labels),
           .of_started = &of_started_.Add({{"function_name", OpenFaasName(ns, function)}})};
  return series_.emplace(Key{std::string(ns), std::string(function)}, std::move(s)).first->second;
}

void Metrics::RecordInvocation(std::string_view ns, std::string_view function, int code,
                               double seconds, bool cold_start) {
  auto& shard = tallies_.Local();
  std::lock_guard lock(shard.mu);
  auto it = shard.value.find(KeyView{ns, function});
  if (it == shard.value.end()) {
    it = shard.value.emplace(Key{std::string(ns), std::string(function)}, Tally{}).first;
  }
  Tally& t = it->second;
  CodeTally& c = t.codes[code];
  ++c.calls;
  // Prometheus buckets are upper bounds, inclusive ("le").
  auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
  ++c.buckets[static_cast<std::size_t>(bucket - kDurationBuckets.begin())];
  c.sum += seconds;
  if (cold_start) ++t.cold_starts;
}

void Metrics::RecordStarted(std::string_view ns, std::string_view function) {
  auto& shard = tallies_.Local();
  std::lock_guard lock(shard.mu);
  auto it = shard.value.find(KeyView{ns, function});
  if (it == shard.value.end()) {
    it = shard.value.emplace(Key{std::string(ns), std::string(function)}, Tally{}).first;
  }
  ++it->second.started;
}

void Metrics::MergeLocked() {
  tallies_.ForEach([this](Tallies& tallies) {
    for (auto& [key, t] : tallies) {
      Series& s = Ensure(key.first, key.second);
      std::vector<double> all(kDurationBuckets.size() + 1, 0.0);
      double all_sum = 0;
      for (const auto& [code, c] : t.codes) {
        Code(s, key.first, key.second, code).Increment(static_cast<double>(c.calls));
        std::vector<double> buckets(c.buckets.begin(), c.buckets.end());
        auto [of_counter, of_histogram] = OpenFaasCode(s, key.first, key.second, code);
        of_counter->Increment(static_cast<double>(c.calls));
        of_histogram->ObserveMultiple(buckets, c.sum);
        for (std::size_t i = 0; i < all.size(); ++i) all[i] += buckets[i];
        all_sum += c.sum;
      }
      if (!t.codes.empty()) s.duration->ObserveMultiple(all, all_sum);
      if (t.cold_starts > 0) s.cold_starts->Increment(static_cast<double>(t.cold_starts));
      if (t.started > 0) s.of_started->Increment(static_cast<double>(t.started));
    }
    tallies.clear();
  });
}

std::pair<prometheus::Counter*, prometheus::Histogram*> Metrics::OpenFaasCode(
    Series& s, std::string_view ns, std::string_view function, int code) {
  auto it = s.of_codes.find(code);
  if (it == s.of_codes.end()) {
    prometheus::Labels labels{{"function_name", OpenFaasName(ns, function)},
                              {"code", std::to_string(code)}};
    it = s.of_codes
             .emplace(code,
                      std::pair{&of_invocations_.Add(labels), &of_seconds_.Add(labels, Buckets())})
             .first;
  }
  return it->second;
}

prometheus::Counter& Metrics::Code(Series& s, std::string_view ns, std::string_view function,
                                   int code) {
  auto it = s.codes.find(code);
  if (it == s.codes.end()) {
    prometheus::Counter& c = invocations_.Add({{"namespace", std::string(ns)},
                                               {"function", std::string(function)},
                                               {"code", std::to_string(code)}});
    it = s.codes.emplace(code, &c).first;
  }
  return *it->second;
}

void Metrics::TrackFunctions(FunctionLister deployed) {
  std::lock_guard lock(mu_);
  lister_ = std::move(deployed);
}

void Metrics::Sync(const std::vector<std::pair<std::string, std::string>>& deployed) {
  std::set<Key, KeyLess> now;
  for (const auto& key : deployed) {
    // The code most calls end with exists from the start, at zero.
    Code(Ensure(key.first, key.second), key.first, key.second, 200);
    now.insert(key);
  }
  for (const auto& key : tracked_) {
    if (now.count(key) != 0) continue;
    auto it = series_.find(key);
    if (it == series_.end()) continue;
    for (const auto& [code, counter] : it->second.codes) invocations_.Remove(counter);
    for (const auto& [code, pair] : it->second.of_codes) {
      of_invocations_.Remove(pair.first);
      of_seconds_.Remove(pair.second);
    }
    durations_.Remove(it->second.duration);
    cold_starts_.Remove(it->second.cold_starts);
    of_started_.Remove(it->second.of_started);
    series_.erase(it);
  }
  tracked_ = std::move(now);
}

void Metrics::Register(std::shared_ptr<prometheus::Collectable> metrics) {
  std::lock_guard lock(mu_);
  collected_.push_back(std::move(metrics));
}

std::string Metrics::Render() {
  FunctionLister lister;
  {
    std::lock_guard lock(mu_);
    lister = lister_;
  }
  // Asked outside the lock: the lister takes the pool's locks, and calls record meanwhile.
  std::vector<std::pair<std::string, std::string>> deployed;
  if (lister) deployed = lister();
  {
    // Merged before Sync, so that the calls of a function deleted since the last scrape
    // are counted in the series Sync then removes, not in new ones that would stay.
    std::lock_guard lock(mu_);
    MergeLocked();
    if (lister) Sync(deployed);
  }
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> collected;
  {
    std::lock_guard lock(mu_);
    collected = collected_;
  }
  // Outside the lock: a collectable may take its own locks, or record metrics itself.
  for (const auto& c : collected) {
    for (auto& family : c->Collect()) families.push_back(std::move(family));
  }
  for (auto& family : families) {
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  return prometheus::TextSerializer().Serialize(families);
}

std::uint64_t Metrics::Invocations(std::string_view ns, std::string_view function, int code) {
  std::lock_guard lock(mu_);
  MergeLocked();
  const Series* s = Find(ns, function);
  if (s == nullptr) return 0;
  auto c = s->codes.find(code);
  return c == s->codes.end() ? 0 : static_cast<std::uint64_t>(c->second->Value());
}

std::uint64_t Metrics::Invocations(std::string_view ns, std::string_view function) {
  std::lock_guard lock(mu_);
  MergeLocked();
  const Series* s = Find(ns, function);
  if (s == nullptr) return 0;
  double total = 0;
  for (const auto& [code, counter] : s->codes) total += counter->Value();
  return static_cast<std::uint64_t>(total);
}

std::uint64_t Metrics::ColdStarts(std::string_view ns, std::string_view function) {
  std::lock_guard lock(mu_);
  MergeLocked();
  const Series* s = Find(ns, function);
  return s == nullptr ? 0 : static_cast<std::uint64_t>(s->cold_starts->Value());
}

}  // namespace gantry::gateway
