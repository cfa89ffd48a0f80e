#include "pool/task_runner.h"

#include <algorithm>

namespace gantry::pool {

TaskRunner::TaskRunner(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Run(); });
}

TaskRunner::~TaskRunner() {
  Shutdown();
}

bool TaskRunner::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return false;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void TaskRunner::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return (tasks_.empty() || shutdown_) && running_ == 0; });
}

void TaskRunner::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_ && threads_.empty()) return;
    shutdown_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  idle_cv_.notify_all();
  for (auto& t : threads_) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // a task's last reference ended the owner; this thread returns at once
    } else {
      t.join();
    }
  }
  threads_.clear();
}

void TaskRunner::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return shutdown_ || !tasks_.empty(); });
    if (shutdown_) return;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    ++running_;
    lock.unlock();
    task();
    task = nullptr;  // captured state goes before the count says idle
    lock.lock();
    --running_;
    idle_cv_.notify_all();
  }
}

}  // namespace gantry::pool
