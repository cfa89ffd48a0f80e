#include "daemon/log_merge.h"

namespace gantry::daemon {

void BoundedLogMerge::Add(std::string timestamp, std::string entry) {
  bytes_ += entry.size() + 1;
  heap_.emplace(std::move(timestamp), added_++, std::move(entry));
  while (bytes_ > max_bytes_ && !heap_.empty()) {
    bytes_ -= std::get<2>(heap_.top()).size() + 1;
    heap_.pop();
    ++dropped_;
  }
}

const std::string& BoundedLogMerge::oldest() const {
  static const std::string kNone;
  return heap_.empty() ? kNone : std::get<0>(heap_.top());
}

std::string BoundedLogMerge::Take() {
  std::string out;
  out.reserve(bytes_);
  while (!heap_.empty()) {
    out += std::get<2>(heap_.top());
    out += '\n';
    heap_.pop();
  }
  bytes_ = 0;
  return out;
}

}  // namespace gantry::daemon
