#pragma once

// A function's Events (what `gantry describe` lists): PoolEvents and the controller's own
// (Built, BuildFailed, RolledOut) written to the store, off the pool's threads.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pool/pool.h"
#include "store/store.h"

namespace gantry::daemon {

// The event a PoolEvent becomes: Started, Ready, Died / OOMKilled (Warning), Removed,
// StartFailed (Warning), Scaled; replica = the container id's first 12 characters.
store::EventRecord EventFromPool(const pool::PoolEvent& event);

// An event the controller records about ns/name now: type "Normal" or "Warning".
store::EventRecord ControllerEvent(const std::string& ns, const std::string& name,
                                   const std::string& type, const std::string& reason,
                                   const std::string& message);

// Takes events from any thread without blocking on the store: a bounded in-memory queue
// one writer thread drains, all pending events in one store transaction. When the queue is
// full (the store stalls), new events are dropped and counted. Thread-safe.
class FunctionEvents {
 public:
  explicit FunctionEvents(store::Store& store, std::size_t max_queue = 10'000);
  ~FunctionEvents();  // Stop()s
  FunctionEvents(const FunctionEvents&) = delete;
  FunctionEvents& operator=(const FunctionEvents&) = delete;

  // What PoolOptions::on_event gets: OnPoolEvent, as long as this object lives.
  pool::PoolEventFn Sink();
  void OnPoolEvent(const pool::PoolEvent& event) { Add(EventFromPool(event)); }
  // Queues one event; never blocks on the store.
  void Add(store::EventRecord event);
  // Blocks until every event queued before the call is written (or dropped on an error).
  void Flush();
  // Writes what is queued and ends the writer; later events are dropped. Idempotent.
  void Stop();
  int64_t dropped() const;

 private:
  void Loop();

  store::Store& store_;
  const std::size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;            // work queued, or stop
  std::condition_variable written_;       // a batch was written
  std::deque<store::EventRecord> queue_;  // guarded by mu_
  bool writing_ = false;                  // guarded by mu_
  bool stop_ = false;                     // guarded by mu_
  int64_t dropped_ = 0;                   // guarded by mu_
  std::thread thread_;
};

}  // namespace gantry::daemon
