#pragma once

#include <chrono>
#include <optional>

namespace gantry::shim {

struct RestartOptions {
  std::chrono::milliseconds first_delay{50};
  std::chrono::milliseconds max_delay{2000};
  // A run shorter than this counts as a failure for back-off even if it got ready.
  std::chrono::milliseconds stable_after{1000};
  // This many exits in a row without ever getting ready: the function can't run.
  int max_unready_exits = 5;
};

// Decides what happens when a persistent function process (http server, runtime-api
// handler) exits: restart after a back-off that doubles with each quick failure, or give
// up when it keeps exiting before it ever got ready. Pure logic; time is passed in.
// Not thread-safe.
class RestartPolicy {
 public:
  explicit RestartPolicy(RestartOptions options = {}) : options_(options) {}

  // Call when the process starts and when it becomes ready.
  void Started(std::chrono::steady_clock::time_point now);
  void BecameReady() { ready_ = true; }

  // Call when it exits. Returns the delay before the next start, or nothing when the shim
  // should give up (max_unready_exits exits in a row before ready).
  std::optional<std::chrono::milliseconds> Exited(std::chrono::steady_clock::time_point now);

  int unready_exits() const { return unready_exits_; }

 private:
  RestartOptions options_;
  std::chrono::steady_clock::time_point started_{};
  bool ready_ = false;
  int quick_exits_ = 0;
  int unready_exits_ = 0;
};

}  // namespace gantry::shim
