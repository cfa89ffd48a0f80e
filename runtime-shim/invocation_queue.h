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

// The state of the Lambda Runtime API between the shim's callers and its handler
// processes, each known by a small number (its slot): calls queue up until a handler asks
// for the next one (GET .../invocation/next, a long poll parked here until there is work),
// then are in flight with that handler until a response or error for their id is posted.
// Any waiting handler takes the oldest queued call; the one that asked last goes first
// (the most recently busy process is the warm one). Ids are unique among queued and in-flight
// calls. Pure logic with no I/O; not thread-safe (the shim's io thread owns it).
class InvocationQueue {
 public:
  using NextFn = std::function<void(const Invocation&)>;

  // Adds a call. If a handler is waiting, hands it over at once (the call is then in
  // flight with that handler); otherwise it queues.
  void Push(Invocation invocation);

  // Handler `slot` asks for work: hands over the oldest queued call at once, or parks `fn`
  // until Push. One waiter is kept per slot; a second replaces the first (a handler that
  // reconnects), and the replaced one is returned so its request can be closed.
  std::optional<NextFn> Next(int slot, NextFn fn);

  // A response or error for call `id` was posted. Returns false when `id` is not in flight
  // (unknown, never handed over, already finished or abandoned).
  bool Finish(const std::string& id);

  // The caller gave up on call `id` (timeout): it leaves the queue or the in-flight set.
  // Returns the slot of the handler that had it in flight (that handler is busy with a call
  // nobody waits for and should be replaced), or nothing when it was only queued or unknown.
  std::optional<int> Abandon(const std::string& id);

  // Handler `slot` is gone: drops its parked waiter and returns the ids that were in flight
  // with it (they can't be answered any more). Queued calls, and other handlers' calls,
  // stay.
  std::vector<std::string> HandlerGone(int slot);

  // How many handlers wait for work.
  std::size_t waiting() const { return waiters_.size(); }
  bool IsWaiting(int slot) const { return waiters_.count(slot) != 0; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  bool IsInFlight(const std::string& id) const { return in_flight_.count(id) != 0; }
  // How many calls handler `slot` has in flight.
  std::size_t InFlightWith(int slot) const;
  // The oldest call in flight with handler `slot`, for tagging its output; empty when none.
  std::string CurrentId(int slot) const;

 private:
  struct Waiter {
    NextFn fn;
    uint64_t since;  // order of arrival: the handler that asked last is served first
  };
  struct InFlight {
    uint64_t order;  // order handed over
    int slot;
  };
  void HandOver(int slot, const NextFn& fn, const Invocation& invocation);

  std::deque<Invocation> queue_;
  std::map<std::string, InFlight> in_flight_;
  std::map<int, Waiter> waiters_;
  uint64_t counter_ = 0;
};

}  // namespace gantry::shim
