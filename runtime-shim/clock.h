#pragma once

#include <chrono>
#include <cstdint>

namespace gantry::shim {

// Time as the shim's logic sees it: a monotonic clock for deadlines and back-off, and the
// wall clock in Unix milliseconds for Lambda-Runtime-Deadline-Ms. An interface so tests can
// drive time by hand. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  virtual int64_t UnixMillis() const = 0;
};

// The real clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::now();
  }
  int64_t UnixMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace gantry::shim
