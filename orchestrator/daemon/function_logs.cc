#include "daemon/function_logs.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "daemon/api_support.h"
#include "spec/duration.h"

namespace gantry::daemon {

using nlohmann::json;

core::Result<gateway::ApiResponse> FunctionLogs::Answer(const std::string& ns,
                                                        const std::string& name,
                                                        const LogsRequest& request,
                                                        const LogLineFormat& format) {
  if (auto r = store_.GetFunction(ns, name); !r) return r.error();
  LogLineFormat shown = format;
  std::vector<logstore::LogEntry> entries;
  std::shared_ptr<logstore::LogSubscription> subscription;
  if (request.follow) {
    std::tie(entries, subscription) = logs_.Subscribe(ns, name, request.query);
  } else {
    entries = logs_.Read(ns, name, request.query);
  }
  if (!request.instance.empty()) {
    const std::string instance = logstore::ShortReplica(request.instance);
    std::erase_if(entries, [&](const logstore::LogEntry& e) { return e.replica != instance; });
    // Followed: other replicas' lines format to nothing, which LogLines leaves out.
    shown = [format, instance](const logstore::LogEntry& e) {
      return e.replica == instance || e.replica == "gantry" ? format(e) : std::string();
    };
  }
  gateway::ApiResponse answer{.status = 200, .content_type = "application/x-ndjson"};
  answer.body = LogLines(entries, format);
  if (subscription) answer.stream = std::make_shared<LogStream>(std::move(subscription), shown);
  return answer;
}

std::string LogTime(std::chrono::system_clock::time_point t) {
  std::string seconds = core::FormatUtc(t);  // "...:05Z"
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() %
            1'000'000'000;
  if (ns < 0) ns += 1'000'000'000;
  seconds.pop_back();
  return fmt::format("{}.{:09d}Z", seconds, ns);
}

std::string OpenFaasLogLine(const std::string& ns, const std::string& name,
                            const logstore::LogEntry& e) {
  return DumpJson(json{{"name", name},
                       {"namespace", ns},
                       {"instance", e.replica},
                       {"timestamp", LogTime(e.time)},
                       {"text", e.text}});
}

std::string GantryLogLine(const logstore::LogEntry& e) {
  json j{{"time", LogTime(e.time)},
         {"stream", e.stream == logstore::LogStream::kStderr ? "stderr" : "stdout"},
         {"text", e.text},
         {"replica", e.replica},
         {"generation", e.generation}};
  if (!e.call_id.empty()) j["callId"] = e.call_id;
  return DumpJson(j);
}

core::Result<std::chrono::system_clock::time_point> ParseLogsSince(
    const std::string& text, bool allow_duration, std::chrono::system_clock::time_point now) {
  if (auto t = core::ParseUtc(text)) return *t;
  if (allow_duration) {
    if (auto d = spec::ParseDuration(text)) return now - *d;
  }
  return core::Error::InvalidArgument(
      fmt::format("since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z{}",
                  allow_duration ? ", or a duration, e.g. 10m" : ""));
}

}  // namespace gantry::daemon
