#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gateway/backend.h"
#include "logstore/log_store.h"

namespace gantry::daemon {

// One NDJSON line (without '\n') for a log entry in an API's format; "" leaves it out.
using LogLineFormat = std::function<std::string(const logstore::LogEntry&)>;

// A `logs -f` answer: the lines a LogSubscription gets, as they come, each formatted by
// `format` and ended by '\n' (a batch is one chunk). When the follower read too slowly and
// lines were dropped for it, the chunk starts with a line from replica "gantry" saying
// "gantry: N lines dropped". Never done: it ends when the client goes (Cancel, which
// ends the subscription). Thread-safe.
class LogStream final : public gateway::BodyStream {
 public:
  LogStream(std::shared_ptr<logstore::LogSubscription> subscription, LogLineFormat format);
  void Next(ChunkFn deliver) override;
  void Cancel() override;

 private:
  std::shared_ptr<logstore::LogSubscription> subscription_;
  LogLineFormat format_;
};

// The NDJSON of `entries`, each formatted by `format` and ended by '\n' (a line formatted
// to "" is left out); first the
// "gantry: N lines dropped" line when dropped > 0.
std::string LogLines(const std::vector<logstore::LogEntry>& entries, const LogLineFormat& format,
                     int64_t dropped = 0);

}  // namespace gantry::daemon
