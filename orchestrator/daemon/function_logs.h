#pragma once

#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "daemon/log_stream.h"
#include "gateway/backend.h"
#include "logstore/log_store.h"
#include "store/store.h"

namespace gantry::daemon {

// What a logs request asks for: the lines matching `query` (and, when set, of one replica:
// `instance`, its first 12 hex), then with `follow` every new line as it comes.
struct LogsRequest {
  logstore::LogQuery query;
  std::string instance;
  bool follow = false;
};

// A function's output for the logs routes (OpenFaaS /system/logs and the Gantry resource
// API): read from the LogStore, so lines of replicas that are gone are there too, and no
// request reads the engine. Thread-safe.
class FunctionLogs {
 public:
  // `clock`'s Wall() is "now" for a since given as a duration (null: the system clock).
  FunctionLogs(store::Store& store, logstore::LogStore& logs, const core::Clock* clock = nullptr)
      : store_(store),
        logs_(logs),
        clock_(clock != nullptr ? *clock : core::SystemClock::Instance()) {}

  // 200 application/x-ndjson: the matching lines oldest first, one `format`ted line each;
  // with follow, then a LogStream of the new lines (never a line twice or missed between
  // the two). Errors: kNotFound when ns/name is not deployed; the store's.
  core::Result<gateway::ApiResponse> Answer(const std::string& ns, const std::string& name,
                                            const LogsRequest& request,
                                            const LogLineFormat& format);

  logstore::LogStore& store() { return logs_; }
  std::chrono::system_clock::time_point now() const { return clock_.Wall(); }

 private:
  store::Store& store_;
  logstore::LogStore& logs_;
  const core::Clock& clock_;
};

// "2026-01-02T15:04:05.123456789Z" (RFC 3339 with nanoseconds, as the engine and OpenFaaS
// write log times).
std::string LogTime(std::chrono::system_clock::time_point t);

// OpenFaaS's LogEntry: {"name", "namespace", "instance", "timestamp", "text"}.
std::string OpenFaasLogLine(const std::string& ns, const std::string& name,
                            const logstore::LogEntry& entry);
// Gantry's: {"time", "stream" ("stdout"|"stderr"), "text", "replica", "callId" (omitted
// when unknown), "generation"}.
std::string GantryLogLine(const logstore::LogEntry& entry);

// A logs `since`: an RFC 3339 time, or (`allow_duration`) a duration back from `now`
// ("10m"). kInvalidArgument otherwise.
core::Result<std::chrono::system_clock::time_point> ParseLogsSince(
    const std::string& text, bool allow_duration, std::chrono::system_clock::time_point now);

}  // namespace gantry::daemon
