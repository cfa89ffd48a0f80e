#include "invocation_queue.h"

#include <algorithm>

namespace gantry::shim {

void InvocationQueue::Push(Invocation invocation) {
  if (waiter_) {
    NextFn fn = std::move(*waiter_);
    waiter_.reset();
    in_flight_[invocation.id] = handed_over_++;
    fn(invocation);
    return;
  }
  queue_.push_back(std::move(invocation));
}

std::optional<InvocationQueue::NextFn> InvocationQueue::Next(NextFn fn) {
  if (!queue_.empty()) {
    Invocation invocation = std::move(queue_.front());
    queue_.pop_front();
    in_flight_[invocation.id] = handed_over_++;
    fn(invocation);
    return std::nullopt;
  }
  std::optional<NextFn> replaced = std::move(waiter_);
  waiter_ = std::move(fn);
  return replaced;
}

bool InvocationQueue::Finish(const std::string& id) { return in_flight_.erase(id) != 0; }

bool InvocationQueue::Abandon(const std::string& id) {
  if (in_flight_.erase(id) != 0) return true;
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const Invocation& invocation) { return invocation.id == id; });
  if (it != queue_.end()) queue_.erase(it);
  return false;
}

std::vector<std::string> InvocationQueue::HandlerGone() {
  waiter_.reset();
  std::vector<std::string> ids;
  for (const auto& [id, order] : in_flight_) ids.push_back(id);
  in_flight_.clear();
  return ids;
}

std::string InvocationQueue::CurrentId() const {
  const std::string* oldest = nullptr;
  uint64_t oldest_order = 0;
  for (const auto& [id, order] : in_flight_) {
    if (oldest == nullptr || order < oldest_order) {
      oldest = &id;
      oldest_order = order;
    }
  }
  return oldest ? *oldest : std::string();
}

}  // namespace gantry::shim
