// A burst of calls to a function at zero, in simulated time: starts take 300 ms of the
// pool's (manual) clock, each call holds its lease for a fixed time. The pool starts only
// the replicas the calls still waiting when a start is ready need (issue 19, item 2).
#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "pool_test_support.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;
using core::SteadyTime;

// A readiness probe that answers `cost` of the manual clock after it was asked: a replica
// start takes that long in the pool's time.
class ClockProbe final : public ReadinessProbe {
 public:
  ClockProbe(core::ManualClock& clock, std::chrono::milliseconds cost)
      : clock_(clock), cost_(cost) {}

  core::Status WaitReady(const Endpoint&, std::chrono::milliseconds,
                         const std::function<bool()>& give_up) override {
    std::unique_lock<std::mutex> lock(mu_);
    SteadyTime due = clock_.Now() + cost_;
    due_.push_back(due);
    auto done = [&] { due_.erase(std::find(due_.begin(), due_.end(), due)); };
    while (clock_.Now() < due) {
      if (give_up && give_up()) {
        done();
        return core::Error::Cancelled("abandoned");
      }
      cv_.wait_for(lock, 1ms);  // short waits only to notice give_up()
    }
    done();
    return core::Ok();
  }
  // Starts that wait for a time still to come.
  int waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    SteadyTime now = clock_.Now();
    return static_cast<int>(
        std::count_if(due_.begin(), due_.end(), [&](SteadyTime t) { return t > now; }));
  }
  void Tick() { cv_.notify_all(); }

 private:
  core::ManualClock& clock_;
  const std::chrono::milliseconds cost_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SteadyTime> due_;
};

struct Call {
  std::shared_ptr<Acquired> acquired;
  std::optional<SteadyTime> leased;  // when the test saw its lease
  bool released = false;
};

// Runs `calls` calls, all made at once at time zero, in steps of 10 ms of the manual clock;
// each holds its lease for `hold`. No control pass runs: what starts is the doing of the
// hooks that plan starts (a call queued, a replica ready, a call done). Returns the time
// the last call gave its lease back.
class Burst {
 public:
  Burst(int max_replicas, std::chrono::milliseconds hold) : probe_(h_.clock, 300ms), hold_(hold) {
    h_.pool.reset();
    h_.options.probe = &probe_;
    h_.options.workers = max_replicas + 2;  // every start at once, as the engine would
    h_.pool = std::make_unique<Pool>(h_.docker, h_.options);
    Deployment d = Echo();
    d.concurrency = 1;
    d.max_replicas = max_replicas;
    d.max_queue = 100;
    d.queue_timeout = 600s;
    d.timeout = 600s;
    REQUIRE(h_.pool->Apply(d).ok());
  }
  ~Burst() { h_.pool.reset(); }  // its starts still ask probe_

  std::chrono::milliseconds Run(int calls) {
    const SteadyTime zero = h_.clock.Now();
    for (int i = 0; i < calls; ++i) calls_.push_back({h_.Acquire()});
    for (int step = 0; step < 10'000; ++step) {
      Settle();
      SteadyTime now = h_.clock.Now();
      for (auto& c : calls_) {
        if (!c.leased && c.acquired->done()) {
          if (!c.acquired->Wait().ok()) FAIL(c.acquired->Wait().error().ToString());
          c.leased = now;
        }
      }
      bool dropped = false;
      for (auto& c : calls_) {
        if (c.leased && !c.released && now - *c.leased >= hold_) {
          { Lease drop = std::move(*c.acquired->Wait()); }
          c.released = true;
          dropped = true;
        }
      }
      if (dropped) continue;  // the freed slots go to waiting calls at this same instant
      if (std::all_of(calls_.begin(), calls_.end(), [](const Call& c) { return c.released; })) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now - zero);
      }
      h_.clock.Advance(10ms);
      probe_.Tick();
    }
    FAIL("the calls were not all served");
    return {};
  }

  int created() const { return h_.docker.CountCalls("CreateContainer"); }
  // Containers created by the time the first call was done.
  int created_before_first_done = 0;

 private:
  // Waits until the pool is still: every start is either waiting for its time in the probe
  // or over, and every call the pool took off its queue has its answer.
  void Settle() {
    for (int i = 0; i < 10'000; ++i) {
      auto s = h_.pool->Describe("default", "echo");
      if (!s.ok()) FAIL(s.error().ToString());
      int answered = static_cast<int>(std::count_if(
          calls_.begin(), calls_.end(), [](const Call& c) { return c.acquired->done(); }));
      if (s->starting == probe_.waiting() &&
          answered == static_cast<int>(calls_.size()) - s->queued) {
        if (!first_done_seen_ &&
            std::any_of(calls_.begin(), calls_.end(), [](const Call& c) { return c.released; })) {
          first_done_seen_ = true;
        }
        if (!first_done_seen_) created_before_first_done = created();
        return;
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 1ms);
    }
    FAIL("the pool did not settle");
  }

  Harness h_;
  ClockProbe probe_;
  const std::chrono::milliseconds hold_;
  std::vector<Call> calls_;
  bool first_done_seen_ = false;
  std::mutex mu_;
  std::condition_variable cv_;  // nobody notifies: a bounded poll
};

TEST_CASE("burst: 20 short calls to a function at zero start one or two replicas, not 20",
          "[pool]") {
  Burst burst(/*max_replicas=*/20, /*hold=*/30ms);
  std::chrono::milliseconds took = burst.Run(20);
  INFO("containers created: " << burst.created() << ", last call done at " << took.count()
                              << " ms");
  CHECK(burst.created() <= 2);
  // One replica serves them one after another: ready at 300 ms, 20 x 30 ms.
  CHECK(took <= 1000ms);
}

TEST_CASE("burst: slow calls scale out once the pool sees how long they take", "[pool]") {
  Burst burst(/*max_replicas=*/20, /*hold=*/5s);
  std::chrono::milliseconds took = burst.Run(20);
  INFO("containers created: " << burst.created() << ", last call done at " << took.count()
                              << " ms");
  // Nothing known at first: one start. When the first call took 5 s, each call still
  // waiting gets a replica of its own (more than one start's worth of 5 s calls).
  CHECK(burst.created_before_first_done == 1);
  CHECK(burst.created() > 2);
  CHECK(burst.created() <= 20);
  CHECK(took <= 11s);  // 0.3 + 5 (the first call), then 0.3 + 5 for all the others
}

}  // namespace
}  // namespace gantry::pool
