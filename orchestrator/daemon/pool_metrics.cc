#include "daemon/pool_metrics.h"

#include <string>

namespace gantry::daemon {
namespace {

prometheus::ClientMetric GaugeSample(std::vector<prometheus::ClientMetric::Label> labels,
                                     double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

}  // namespace

PoolMetrics::PoolMetrics(const pool::Pool& pool)
    : pool_(pool),
      builds_(prometheus::BuildCounter()
                  .Name("gantry_builds_total")
                  .Help("Image builds that applies needed, by outcome.")
                  .Register(registry_)) {}

void PoolMetrics::CountBuild(std::string_view outcome) {
  builds_.Add({{"outcome", std::string(outcome)}}).Increment();
}

std::vector<prometheus::MetricFamily> PoolMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_.Collect();
  prometheus::MetricFamily replicas{
      "gantry_replicas", "Replicas by function and state.", prometheus::MetricType::Gauge, {}};
  prometheus::MetricFamily queued{
      "gantry_queue_depth", "Calls waiting for a slot.", prometheus::MetricType::Gauge, {}};
  prometheus::MetricFamily in_flight{"gantry_invocations_in_flight",
                                     "Calls the function's replicas are serving now.",
                                     prometheus::MetricType::Gauge,
                                     {}};
  // OpenFaaS's name for a function's available replicas (its dashboard's "replicas").
  prometheus::MetricFamily service_count{"gateway_service_count",
                                         "Ready replicas by function (name.namespace), under "
                                         "OpenFaaS's name.",
                                         prometheus::MetricType::Gauge,
                                         {}};
  for (const auto& fn : pool_.List()) {
    service_count.metric.push_back(
        GaugeSample({{"function_name", fn.name + "." + fn.namespace_name}}, fn.ready));
    replicas.metric.push_back(GaugeSample(
        {{"namespace", fn.namespace_name}, {"function", fn.name}, {"state", "ready"}}, fn.ready));
    replicas.metric.push_back(GaugeSample(
        {{"namespace", fn.namespace_name}, {"function", fn.name}, {"state", "starting"}},
        fn.starting));
    queued.metric.push_back(
        GaugeSample({{"namespace", fn.namespace_name}, {"function", fn.name}}, fn.queued));
    in_flight.metric.push_back(
        GaugeSample({{"namespace", fn.namespace_name}, {"function", fn.name}}, fn.in_flight));
  }
  prometheus::MetricFamily stem{"gantry_stem_cells",
                                "Free stem cells (ready, belonging to no function) by runtime.",
                                prometheus::MetricType::Gauge,
                                {}};
  for (const auto& [runtime, free] : pool_.FreeStemCells()) {
    stem.metric.push_back(GaugeSample({{"runtime", runtime}}, free));
  }
  families.push_back(std::move(stem));
  families.push_back(std::move(replicas));
  families.push_back(std::move(in_flight));
  families.push_back(std::move(queued));
  families.push_back(std::move(service_count));
  return families;
}

}  // namespace gantry::daemon
