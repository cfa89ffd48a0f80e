#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::shim {

// One call waiting for or being run by a runtime-api handler.
struct Invocation {
  std::string id;            // Lambda-Runtime-Aws-Request-Id (the shim's call id)
  std::string event;         // the JSON event body
  int64_t deadline_unix_ms;  // Lambda-Runtime-Deadline-Ms
};

// The state of the Lambda Runtime API between the shim's callers and the handler process:
// calls queue up until the handler asks for the next one (GET .../invocation/next, a long
// poll parked here until there is work), then are in flight until the handler posts their
// response or error. Ids are unique among queued and in-flight calls. Pure logic with no
// I/O; not thread-safe (the shim's io thread owns it).
class InvocationQueue {
 public:
  using NextFn = std::function<void(const Invocation&)>;

  // Adds a call. If the handler is waiting, hands it over at once (the call is then in
  // flight); otherwise it queues.
  void Push(Invocation invocation);

  // The handler asks for work: hands over the oldest queued call at once, or parks `fn`
  // until Push. Only one waiter is kept; a second replaces the first (a handler that
  // reconnects), and the replaced one is returned so its request can be closed.
  std::optional<NextFn> Next(NextFn fn);

  // The handler finished call `id`. Returns false when `id` is not in flight (unknown,
  // never handed over, already finished or abandoned).
  bool Finish(const std::string& id);

  // The caller gave up on call `id` (timeout): it leaves the queue or the in-flight set.
  // Returns true if it was in flight (the handler is busy with it and should be replaced).
  bool Abandon(const std::string& id);

  // The handler process is gone: drops the parked waiter and returns the ids that were in
  // flight with it (they can't be answered any more). Queued calls stay for the next one.
  std::vector<std::string> HandlerGone();

  bool waiting() const { return waiter_.has_value(); }
  std::size_t queued() const { return queue_.size(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  bool IsInFlight(const std::string& id) const { return in_flight_.count(id) != 0; }
  // The oldest call in flight, for tagging the handler's output; empty when none.
  std::string CurrentId() const;

 private:
  std::deque<Invocation> queue_;
  std::map<std::string, uint64_t> in_flight_;  // id -> order handed over
  uint64_t handed_over_ = 0;
  std::optional<NextFn> waiter_;
};

}  // namespace gantry::shim
