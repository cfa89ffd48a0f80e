#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gantry::pool {

// A fixed number of threads running queued tasks in order of submission: the pool's slow
// work (create, start, readiness, stop, remove) happens here, off the callers' threads.
// Thread-safe.
class TaskRunner {
 public:
  explicit TaskRunner(int threads);
  ~TaskRunner();  // Shutdown()s
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // Queues `task`; returns false (and drops it) after Shutdown().
  bool Post(std::function<void()> task);
  // Blocks until nothing is queued or running.
  void Flush();
  // Drops queued tasks, waits for running ones, joins the threads. Idempotent.
  void Shutdown();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;               // tasks queued, or shutting down
  std::condition_variable idle_cv_;          // a task finished
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  int running_ = 0;                          // guarded by mu_
  bool shutdown_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace gantry::pool
