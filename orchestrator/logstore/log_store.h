#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "logstore/call_attribution.h"
#include "logstore/log_entry.h"

namespace gantry::logstore {

struct LogStoreOptions {
  // Per function: the oldest lines go first once its lines take more than this many bytes
  // (EntryBytes) or are older than max_age (by their own time, against clock->Wall()).
  std::size_t max_bytes_per_function = std::size_t{4} << 20;
  std::chrono::seconds max_age = std::chrono::hours(24);
  // A longer line is cut to this many bytes and ends in " [gantry: line cut]".
  std::size_t max_line_bytes = 16 * 1024;
  // Lines a follower may have waiting before the oldest waiting ones are dropped for it.
  std::size_t subscriber_buffer_lines = 2000;
  // Calls remembered per replica for call attribution (NoteCall), newest kept.
  std::size_t calls_per_replica = 256;
  core::Clock* clock = nullptr;  // null: the system clock
};

// Which of a function's lines a query wants: those at or after `since` (when set), then
// the last `tail` of them (per function, all replicas together; 0: all).
struct LogQuery {
  std::optional<std::chrono::system_clock::time_point> since;
  std::size_t tail = 0;
};

// What a follower gets at a time: new lines oldest first, and how many lines it missed
// before them because it did not take them fast enough.
struct LogBatch {
  std::vector<LogEntry> entries;
  int64_t dropped = 0;
};

// A follower of one function's new lines (LogStore::Subscribe). Lines wait in a bounded
// buffer (LogStoreOptions::subscriber_buffer_lines; beyond it the oldest waiting lines are
// dropped and counted), so a follower that reads slowly never holds up the writers.
// Thread-safe.
class LogSubscription {
 public:
  using BatchFn = std::function<void(LogBatch)>;
  explicit LogSubscription(std::size_t capacity) : capacity_(capacity) {}

  // Asks for the next batch, once: `on_batch` runs at once on this thread when lines are
  // waiting, else later on the thread of the writer that adds the next line (with no store
  // lock held; keep it quick). A second Wait before the first ran replaces it. Never runs
  // after Cancel() returned.
  void Wait(BatchFn on_batch);
  // Ends the subscription: nothing is buffered or delivered from now on (the store forgets
  // it on its next write to the function).
  void Cancel();
  bool cancelled() const;

 private:
  friend class LogStore;
  // Buffers one line; returns the waiting callback with its batch when one was waiting (the
  // caller runs it after releasing its own locks).
  std::optional<std::pair<BatchFn, LogBatch>> Push(const LogEntry& entry);

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::deque<LogEntry> buffer_;  // GUARDED_BY(mu_)
  int64_t dropped_ = 0;          // GUARDED_BY(mu_)
  BatchFn waiting_;              // GUARDED_BY(mu_)
  bool cancelled_ = false;       // GUARDED_BY(mu_)
};

// Every function's recent output, kept in memory so that it outlives the replicas that
// wrote it (a restart of gantryd starts empty). Per function the lines are kept in time
// order, bounded by bytes and age (LogStoreOptions); a line already kept (same replica,
// time and text) is not added twice, so a died replica's last lines can be added on top of
// what its follower read. Lines get a call id from NoteCall's spans (AttributeCall), also
// after the fact. Memory is bounded by max_bytes_per_function per function plus each
// follower's buffer, whatever the functions print. Thread-safe.
class LogStore {
 public:
  explicit LogStore(LogStoreOptions options = {});

  // Adds a line of ns/name (cut to max_line_bytes), drops what the bounds then exclude and
  // hands the line to the function's followers. Returns false when it was already kept.
  bool Append(const std::string& ns, const std::string& name, LogEntry entry);

  // The function's kept lines that match `query`, oldest first. Unknown: none.
  std::vector<LogEntry> Read(const std::string& ns, const std::string& name,
                             const LogQuery& query) const;

  // Read(query) and a subscription to the lines added after it, atomically: no line is in
  // both, none is missed.
  std::pair<std::vector<LogEntry>, std::shared_ptr<LogSubscription>> Subscribe(
      const std::string& ns, const std::string& name, const LogQuery& query);

  // Tells the store that call `call_id` ran on `replica` (a container id, or its first 12
  // hex) from `start` to `end`: kept lines of that replica in the span, and lines added
  // later, get the call id when exactly that call spans them.
  void NoteCall(const std::string& replica, const std::string& call_id,
                std::chrono::system_clock::time_point start,
                std::chrono::system_clock::time_point end);

  // Forgets the function's lines (it was deleted); its followers stay subscribed.
  void Forget(const std::string& ns, const std::string& name);

  // Lines kept for the function and their bytes (EntryBytes), for tests and metrics.
  std::size_t Lines(const std::string& ns, const std::string& name) const;
  std::size_t Bytes(const std::string& ns, const std::string& name) const;

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name
  struct FunctionLog {
    std::deque<LogEntry> entries;  // by time, oldest first
    std::size_t bytes = 0;
    std::vector<std::weak_ptr<LogSubscription>> subscribers;
  };
  struct ReplicaCalls {
    Key function;                // where its lines are kept ("" until a line is added)
    std::deque<CallSpan> calls;  // oldest first
  };

  void DropExcess(FunctionLog& log, std::chrono::system_clock::time_point now);
  // Lines of a function that match `query` (mu_ held).
  static std::vector<LogEntry> Select(const FunctionLog& log, const LogQuery& query);
  // The replica's calls (mu_ held); made on first use, forgetting stale replicas past a
  // bound.
  ReplicaCalls& CallsOf(const std::string& replica);
  std::string CallAt(const std::string& replica, std::chrono::system_clock::time_point t) const;

  const LogStoreOptions options_;
  core::Clock& clock_;
  mutable std::mutex mu_;
  std::map<Key, FunctionLog> functions_;       // GUARDED_BY(mu_)
  std::map<std::string, ReplicaCalls> calls_;  // by short replica id; GUARDED_BY(mu_)
};

}  // namespace gantry::logstore
