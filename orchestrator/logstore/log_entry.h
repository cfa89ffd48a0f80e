#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gantry::logstore {

enum class LogStream { kStdout, kStderr };

// One line a function's replica wrote: when (the engine's timestamp), on which stream, the
// text (no '\n'), which replica (the container id's first 12 hex), the call it belongs to
// ("" when it can't be told) and the replica's generation. A plain value.
struct LogEntry {
  std::chrono::system_clock::time_point time;
  LogStream stream = LogStream::kStdout;
  std::string text;
  std::string replica;
  std::string call_id;
  int64_t generation = 0;
};

// What a LogEntry counts against a function's byte bound: its strings plus a fixed
// overhead for the rest, so that many empty lines are bounded too.
inline std::size_t EntryBytes(const LogEntry& e) {
  return e.text.size() + e.replica.size() + e.call_id.size() + 64;
}

// The first 12 characters of a container id (how replicas are shown and keyed).
inline std::string ShortReplica(const std::string& id) {
  return id.substr(0, 12);
}

}  // namespace gantry::logstore
