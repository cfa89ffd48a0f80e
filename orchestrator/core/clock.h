#pragma once

#include <chrono>
#include <mutex>

namespace gantry::core {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Monotonic time for deadlines, keep-alive and scaling windows (Now), and the calendar
// time that is stored or shown (Wall: record stamps, durable retry times). An interface so
// that tests drive time by hand (ManualClock). Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  virtual WallTime Wall() const = 0;
};

// The process's steady clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime Wall() const override { return std::chrono::system_clock::now(); }

  // A process-wide instance, for callers that were given no clock.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// The system clock run `speed` times faster from a fixed origin (2026-01-01T00:00:00Z), the
// same in every process, so that times it gave before a restart stay in the past after it:
// tests see a minute's cron tick every 60/speed seconds (gantryd --test-clock-speed).
class ScaledClock final : public Clock {
 public:
  explicit ScaledClock(int speed) : speed_(speed) {}
  SteadyTime Now() const override {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return SteadyTime(now * speed_);
  }
  WallTime Wall() const override {
    const WallTime origin{std::chrono::seconds(1'767'225'600)};
    return origin + (std::chrono::system_clock::now() - origin) * speed_;
  }

 private:
  const int speed_;
};

// A clock that moves only when told (tests). Starts at an arbitrary fixed point so that
// "now - 1 h" is still a valid time; Wall() starts at kWallStart (2026-01-01T00:00:00Z)
// and moves with Now(). Thread-safe.
class ManualClock final : public Clock {
 public:
  static constexpr std::chrono::seconds kWallStart{1'767'225'600};

  ManualClock() : now_(SteadyTime() + std::chrono::hours(24)), wall_(WallTime(kWallStart)) {}

  SteadyTime Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  WallTime Wall() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return wall_;
  }
  void Advance(std::chrono::steady_clock::duration by) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += by;
    wall_ += std::chrono::duration_cast<WallTime::duration>(by);
  }

 private:
  mutable std::mutex mu_;
  SteadyTime now_;
  WallTime wall_;
};

}  // namespace gantry::core
