#include "pool/died_log.h"

#include <cctype>

#include "core/log.h"
#include "core/time_format.h"

namespace gantry::pool {

LogLine ParseTimestampedLine(docker::Stream stream, std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  LogLine out{.stream = stream};
  size_t space = line.find(' ');
  auto when = core::ParseUtc(line.substr(0, space));
  if (space == std::string_view::npos || !when) {
    out.text = std::string(line);
    return out;
  }
  out.time = *when;
  // The fraction after the seconds ("2026-01-02T15:04:05.123456789Z"): to microseconds.
  std::string_view stamp = line.substr(0, space);
  if (size_t dot = stamp.find('.'); dot != std::string_view::npos) {
    int64_t micros = 0;
    int digits = 0;
    for (size_t i = dot + 1; i < stamp.size() && std::isdigit(static_cast<unsigned char>(stamp[i]));
         ++i) {
      if (digits < 6) {
        micros = micros * 10 + (stamp[i] - '0');
        ++digits;
      }
    }
    for (; digits < 6; ++digits) micros *= 10;
    out.time += std::chrono::microseconds(micros);
  }
  out.text = std::string(line.substr(space + 1));
  return out;
}

std::vector<LogLine> ReadDiedLog(docker::DockerClient& docker, const std::string& id, int n) {
  std::vector<LogLine> lines;
  docker::LogsOptions options{.tail = n, .timestamps = true};
  auto s = docker.Logs(id, options, [&](docker::Stream stream, std::string_view line) {
    lines.push_back(ParseTimestampedLine(stream, line));
    return true;
  });
  if (!s) core::Log(core::LogLevel::kWarn, "pool: logs of {}: {}", id, s.error().ToString());
  if (static_cast<int>(lines.size()) > n) {
    lines.erase(lines.begin(), lines.end() - n);
  }
  return lines;
}

}  // namespace gantry::pool
