#include "logstore/engine_log_line.h"

#include <cctype>

#include "core/time_format.h"

namespace gantry::logstore {

std::optional<EngineLogLine> ParseEngineLogLine(std::string_view line) {
  std::size_t space = line.find(' ');
  std::string_view stamp = line.substr(0, space);
  auto seconds = core::ParseUtc(stamp);
  if (!seconds) return std::nullopt;
  std::chrono::nanoseconds fraction{0};
  // "YYYY-MM-DDTHH:MM:SS" is 19 characters; a fraction follows as ".digits".
  if (stamp.size() > 20 && stamp[19] == '.') {
    int64_t scale = 100'000'000;
    for (std::size_t i = 20; i < stamp.size() && scale > 0; ++i, scale /= 10) {
      if (!std::isdigit(static_cast<unsigned char>(stamp[i]))) break;
      fraction += std::chrono::nanoseconds((stamp[i] - '0') * scale);
    }
  }
  EngineLogLine out;
  out.time = *seconds + std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
  if (space != std::string_view::npos) out.text = std::string(line.substr(space + 1));
  return out;
}

}  // namespace gantry::logstore
