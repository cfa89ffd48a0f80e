#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string_view>
#include <vector>

#include "pool/pool.h"

namespace gantry::daemon {

// gantryd's own metrics, next to the gateway's at GET /metrics (gateway::Metrics::Register):
//   gantry_builds_total{outcome}                       counter: image builds applies needed
//   gantry_replicas{namespace,function,state}          gauge: "ready" and "starting"
//   gantry_invocations_in_flight{namespace,function}   gauge: calls replicas are serving
//   gantry_queue_depth{namespace,function}             gauge: calls waiting for a slot
//   gantry_stem_cells{runtime}                         gauge: free stem cells
// The gauges are read from Pool::List() at each scrape (in-memory state: quick). The pool
// must outlive this. Thread-safe.
class PoolMetrics : public prometheus::Collectable {
 public:
  explicit PoolMetrics(const pool::Pool& pool);

  // Counts one build by its outcome (the controller's on_build).
  void CountBuild(std::string_view outcome);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const pool::Pool& pool_;
  prometheus::Registry registry_;  // the counters
  prometheus::Family<prometheus::Counter>& builds_;
};

}  // namespace gantry::daemon
