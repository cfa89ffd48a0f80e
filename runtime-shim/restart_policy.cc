#include "restart_policy.h"

#include <algorithm>

namespace gantry::shim {

void RestartPolicy::Started(std::chrono::steady_clock::time_point now) {
  started_ = now;
  ready_ = false;
}

std::optional<std::chrono::milliseconds> RestartPolicy::Exited(
    std::chrono::steady_clock::time_point now) {
  unready_exits_ = ready_ ? 0 : unready_exits_ + 1;
  if (unready_exits_ >= options_.max_unready_exits) return std::nullopt;
  bool stable = ready_ && now - started_ >= options_.stable_after;
  if (stable) {
    quick_exits_ = 0;
    return std::chrono::milliseconds(0);
  }
  ++quick_exits_;
  auto delay = options_.first_delay;
  for (int i = 1; i < quick_exits_ && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

}  // namespace gantry::shim
