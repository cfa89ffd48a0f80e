#pragma once

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "pool/pool.h"
#include "pool/readiness.h"
#include "support/fake_docker_client.h"

namespace gantry::pool {

// A readiness probe the test opens by hand: until Open(), every WaitReady blocks (giving
// up only when the pool abandons the replica); after it, replicas are ready, or fail with
// the error given to FailWith.
class GateProbe final : public ReadinessProbe {
 public:
  core::Status WaitReady(const Endpoint& endpoint, std::chrono::milliseconds limit,
                         const std::function<bool()>& give_up) override;
  void Open();
  void Close();  // later probes block again
  void FailWith(core::Error error);
  // Waits (bounded) until `n` probes have begun; false if they did not.
  bool WaitProbes(int n);
  int probes() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::optional<core::Error> error_;
  int probes_ = 0;
};

// What one Acquire answered, waited for with a bound so a lost callback fails the test.
class Acquired : public std::enable_shared_from_this<Acquired> {
 public:
  // Keeps this object alive until it is called (a pool may answer after the test is done).
  AcquireCallback Callback();
  bool done() const;
  // The result; REQUIREs it to come within a few seconds.
  core::Result<Lease>& Wait();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<core::Result<Lease>> result_;
};

// A Pool over a FakeDockerClient, a ManualClock and a GateProbe, with no control thread
// (the test calls Reconcile) and a run_dir of its own, removed at the end.
// Options of a pool driven by a unit test: a fresh scratch run_dir (made here), the test
// label, the manual clock and probe, no control loop, events or socket tmpfs (the test
// drives them).
PoolOptions UnitPoolOptions(core::ManualClock& clock, ReadinessProbe& probe, bool watch_events);

struct Harness {
  explicit Harness(bool watch_events = false, PoolEventFn on_event = {});
  ~Harness();

  std::shared_ptr<Acquired> Acquire(const std::string& name = "echo");

  testing::FakeDockerClient docker;
  core::ManualClock clock;
  GateProbe probe;
  std::string run_dir;
  PoolOptions options;
  std::unique_ptr<Pool> pool;
};

// An exec-style function: concurrency 4, 0..3 replicas, idle 10 s, queue 5 for 2 s.
Deployment Echo(int64_t generation = 1);

}  // namespace gantry::pool
