#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/sharded.h"
#include "gateway/call_record.h"
#include "store/store.h"

namespace gantry::daemon {

struct RecorderOptions {
  std::size_t max_queued = 10'000;  // records waiting from one thread; more are dropped (counted)
  std::size_t batch = 512;          // a write as soon as this many wait
  std::chrono::milliseconds flush_every{100};  // else a write this often
};

// Takes the gateway's call records off the request path into the store: Add() only moves
// the record into the calling thread's own bounded in-memory queue (core::Sharded: a lock no
// other io thread takes, never I/O); one writer thread writes what is queued in one
// transaction (store::Store::RecordInvocations) every flush_every, or as soon as one
// thread's queue holds `batch` records. When a thread's queue is full a record is
// dropped and counted (dropped(), and gantry_invocation_records_dropped_total as a
// Collectable for /metrics); a batch the store refuses is logged and dropped (counted too).
// Stop() writes what is still queued. It also counts each function's compute as written
// (gantry_function_compute_gb_seconds_total), from the store's usage at construction on.
// Thread-safe.
class InvocationRecorder : public prometheus::Collectable {
 public:
  using WriteFn = std::function<core::Status(const std::vector<store::InvocationRecord>&)>;

  explicit InvocationRecorder(store::Store& store, RecorderOptions options = {});
  // Tests: writes go to `write` instead of a store.
  InvocationRecorder(WriteFn write, RecorderOptions options);
  ~InvocationRecorder() override;  // Stop()s

  // Starts the writer thread. Without it, records wait for Flush() or Stop().
  void Start();
  // Ends the writer thread and writes what is queued. Idempotent.
  void Stop();

  // Queues `call` (see the class comment). Never blocks on I/O.
  void Add(gateway::CallRecord&& call);
  // For GatewayOptions::on_call: Add on this recorder (which must outlive the gateway).
  gateway::CallRecordFn Hook();
  // Writes what is queued now, on the calling thread, in batches of at most `batch`.
  void Flush();

  std::uint64_t dropped() const;
  std::vector<prometheus::MetricFamily> Collect() const override;

  // The store's row for a gateway record (trigger "http"; the store merges it into an async
  // call's row of the same id).
  static store::InvocationRecord ToStore(gateway::CallRecord&& call);

 private:
  void Work();

  const WriteFn write_;
  const RecorderOptions options_;
  core::Sharded<std::vector<store::InvocationRecord>> queues_;  // one per recording thread
  std::atomic<std::uint64_t> dropped_{0};
  mutable std::mutex mu_;  // for the writer's wake-ups only, never taken by a call's Add
  std::condition_variable wake_;
  bool full_ = false;      // a thread's queue holds a batch; guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::mutex write_mu_;    // one batch written at a time
  // Compute per (namespace, function) in KiB x ms: seeded from the store's usage, then
  // counted per batch written.
  mutable std::mutex usage_mu_;
  std::map<std::pair<std::string, std::string>, int64_t> kib_ms_;  // guarded by usage_mu_
  std::thread thread_;
};

}  // namespace gantry::daemon
