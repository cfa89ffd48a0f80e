#include "logstore/engine_log_line.h"

#include <cctype>

#include "core/time_format.h"

namespace gantry::logstore {

std::string ShimCallId(std::string_view text) {
  constexpr std::size_t kIdLength = 36;  // core/call_id: a UUID's text form
  if (text.size() < kIdLength + 3 || text[0] != '[' || text[kIdLength + 1] != ']' ||
      text[kIdLength + 2] != ' ') {
    return "";
  }
  std::string_view id = text.substr(1, kIdLength);
  for (std::size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return "";
  }
  return std::string(id);
}

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
