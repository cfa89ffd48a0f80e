#include "daemon/logs_params.h"

#include <charconv>

#include "daemon/api_support.h"

namespace gantry::daemon {

core::Result<LogsRequest> ParseLogsRequest(const gateway::ApiRequest& r, bool allow_duration,
                                           std::chrono::system_clock::time_point now) {
  LogsRequest out;
  if (std::string tail = QueryParam(r, "tail"); !tail.empty()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
    if (ec != std::errc() || end != tail.data() + tail.size()) {
      return core::Error::InvalidArgument("tail must be a whole number of lines");
    }
    out.query.tail = n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  if (std::string since = QueryParam(r, "since"); !since.empty()) {
    auto t = ParseLogsSince(since, allow_duration, now);
    if (!t) return t.error();
    out.query.since = *t;
  }
  std::string follow = QueryParam(r, "follow");
  out.follow = follow == "true" || follow == "1";
  out.instance = QueryParam(r, "instance");
  return out;
}

}  // namespace gantry::daemon
