#include "pool/task_runner.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;

// A gate tasks wait at until the test opens it; Wait() gives up after a bound so that a
// broken runner fails the test instead of hanging it.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
};

TEST_CASE("task runner: one worker runs tasks in the order they were posted", "[pool]") {
  TaskRunner runner(1);
  std::vector<int> order;  // written by the one worker only; read after Flush()
  for (int i = 0; i < 100; ++i) CHECK(runner.Post([&order, i] { order.push_back(i); }));
  runner.Flush();
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("task runner: Flush returns only once queued and running tasks are done", "[pool]") {
  TaskRunner runner(2);
  Gate gate;
  std::promise<void> started;
  std::atomic<int> done{0};
  REQUIRE(runner.Post([&] {
    started.set_value();
    gate.Wait();
    ++done;
  }));
  for (int i = 0; i < 10; ++i) REQUIRE(runner.Post([&] { ++done; }));
  started.get_future().wait();
  std::thread opener([&] { gate.Open(); });
  runner.Flush();
  CHECK(done.load() == 11);
  opener.join();
  runner.Flush();  // nothing queued: returns at once
  CHECK(done.load() == 11);
}

TEST_CASE("task runner: workers run tasks at the same time", "[pool]") {
  constexpr int kWorkers = 4;
  TaskRunner runner(kWorkers);
  // Each task waits until all kWorkers have started: only concurrent workers get there.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<int> met{0};
  for (int i = 0; i < kWorkers; ++i) {
    REQUIRE(runner.Post([&] {
      std::unique_lock lock(mu);
      ++arrived;
      cv.notify_all();
      if (cv.wait_for(lock, 10s, [&] { return arrived == kWorkers; })) ++met;
    }));
  }
  runner.Flush();
  CHECK(met.load() == kWorkers);
}

TEST_CASE("task runner: fewer than one thread means one", "[pool]") {
  TaskRunner runner(0);
  std::atomic<bool> ran{false};
  REQUIRE(runner.Post([&] { ran = true; }));
  runner.Flush();
  CHECK(ran.load());
}

TEST_CASE("task runner: after Shutdown, Post returns false and drops the task", "[pool]") {
  TaskRunner runner(1);
  runner.Shutdown();
  bool ran = false;
  CHECK_FALSE(runner.Post([&] { ran = true; }));
  runner.Flush();     // returns: nothing will run
  runner.Shutdown();  // idempotent
  CHECK_FALSE(ran);
}

TEST_CASE("task runner: Shutdown drops queued tasks and waits for the running one", "[pool]") {
  TaskRunner runner(1);
  Gate gate;
  std::promise<void> started;
  std::atomic<bool> first_done{false};
  std::atomic<bool> second_ran{false};
  REQUIRE(runner.Post([&] {
    started.set_value();
    gate.Wait();
    first_done = true;
  }));
  REQUIRE(runner.Post([&] { second_ran = true; }));
  started.get_future().wait();
  std::thread stopper([&] { runner.Shutdown(); });
  // Post fails from the moment Shutdown has cleared the queue (one critical section).
  while (runner.Post([] {})) std::this_thread::yield();
  gate.Open();
  stopper.join();
  CHECK(first_done.load());
  CHECK_FALSE(second_ran.load());
}

}  // namespace
}  // namespace gantry::pool
