#include "pool_test_support.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

namespace gantry::pool {

using namespace std::chrono_literals;

core::Status GateProbe::WaitReady(const Endpoint&, std::chrono::milliseconds,
                                  const std::function<bool()>& give_up) {
  std::unique_lock<std::mutex> lock(mu_);
  ++probes_;
  cv_.notify_all();
  // Short waits only to notice give_up(), which has no condition variable to signal.
  while (!open_) {
    if (give_up && give_up()) return core::Error::Cancelled("abandoned");
    cv_.wait_for(lock, 2ms);
  }
  if (error_) return *error_;
  return core::Ok();
}

void GateProbe::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  cv_.notify_all();
}

void GateProbe::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = false;
  error_.reset();
}

void GateProbe::FailWith(core::Error error) {
  std::lock_guard<std::mutex> lock(mu_);
  error_ = std::move(error);
  open_ = true;
  cv_.notify_all();
}

bool GateProbe::WaitProbes(int n) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, 10s, [&] { return probes_ >= n; });
}

int GateProbe::probes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return probes_;
}

AcquireCallback Acquired::Callback() {
  return [self = shared_from_this()](core::Result<Lease> result) {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->result_.emplace(std::move(result));
    self->cv_.notify_all();
  };
}

bool Acquired::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return result_.has_value();
}

core::Result<Lease>& Acquired::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  bool answered = cv_.wait_for(lock, 10s, [&] { return result_.has_value(); });
  REQUIRE(answered);
  return *result_;
}

PoolOptions UnitPoolOptions(core::ManualClock& clock, ReadinessProbe& probe, bool watch_events) {
  char dir[] = "/tmp/gantry-pool-unit.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  PoolOptions options;
  options.run_dir = dir;
  options.extra_labels = {{"gantry.test", "unit"}};
  options.clock = &clock;
  options.probe = &probe;
  options.control_loop = false;
  options.watch_events = watch_events;
  options.socket_dir_bytes = 0;  // no tmpfs mounts from unit tests
  return options;
}

Harness::Harness(bool watch_events, PoolEventFn on_event) {
  options = UnitPoolOptions(clock, probe, watch_events);
  options.on_event = std::move(on_event);
  run_dir = options.run_dir;
  pool = std::make_unique<Pool>(docker, options);
}

Harness::~Harness() {
  pool.reset();
  std::error_code ignored;
  std::filesystem::remove_all(run_dir, ignored);
}

std::shared_ptr<Acquired> Harness::Acquire(const std::string& name) {
  auto a = std::make_shared<Acquired>();
  pool->Acquire("default", name, a->Callback());
  return a;
}

Deployment Echo(int64_t generation) {
  Deployment d;
  d.namespace_name = "default";
  d.name = "echo";
  d.generation = generation;
  d.image = "gantry/fn-default-echo:" + std::to_string(generation);
  d.concurrency = 4;
  d.min_replicas = 0;
  d.max_replicas = 3;
  d.idle_timeout = 10s;
  d.timeout = 5s;
  d.max_queue = 5;
  d.queue_timeout = 2s;
  return d;
}

}  // namespace gantry::pool
