#include "daemon/log_stream.h"

#include <fmt/format.h>

#include <chrono>

namespace gantry::daemon {

LogStream::LogStream(std::shared_ptr<logstore::LogSubscription> subscription, LogLineFormat format)
    : subscription_(std::move(subscription)), format_(std::move(format)) {}

void LogStream::Next(ChunkFn deliver) {
  subscription_->Wait(
      [format = format_, deliver = std::move(deliver)](const logstore::LogBatch& batch) {
        deliver(LogLines(batch.entries, format, batch.dropped), false);
      });
}

void LogStream::Cancel() {
  subscription_->Cancel();
}

std::string LogLines(const std::vector<logstore::LogEntry>& entries, const LogLineFormat& format,
                     int64_t dropped) {
  std::string out;
  if (dropped > 0) {
    logstore::LogEntry note{
        .time = entries.empty() ? std::chrono::system_clock::now() : entries.front().time,
        .stream = logstore::LogStream::kStderr,
        .text = fmt::format("gantry: {} lines dropped (this reader was too slow)", dropped),
        .replica = "gantry"};
    out += format(note);
    out += '\n';
  }
  for (const auto& e : entries) {
    std::string line = format(e);
    if (line.empty()) continue;
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace gantry::daemon
