#pragma once

#include <chrono>
#include <mutex>

namespace gantry::core {

using SteadyTime = std::chrono::steady_clock::time_point;

// Monotonic time for deadlines, keep-alive and scaling windows. An interface so that tests
// drive time by hand (ManualClock). Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
};

// The process's steady clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }

  // A process-wide instance, for callers that were given no clock.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told (tests). Starts at an arbitrary fixed point so that
// "now - 1 h" is still a valid time. Thread-safe.
class ManualClock final : public Clock {
 public:
  ManualClock() : now_(SteadyTime() + std::chrono::hours(24)) {}

  SteadyTime Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(std::chrono::steady_clock::duration by) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += by;
  }

 private:
  mutable std::mutex mu_;
  SteadyTime now_;
};

}  // namespace gantry::core
