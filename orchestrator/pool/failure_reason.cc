#include "pool/failure_reason.h"

#include <fmt/format.h>

// PLACEHOLDER: the "failures" part's implementation replaces this at merge.

namespace gantry::pool {

std::string DescribeFailure(const FailureFacts& facts) {
  std::string last;
  std::string error;  // the last "...Error: ..." line (a traceback's verdict)
  if (facts.last_lines != nullptr) {
    for (const auto& line : *facts.last_lines) {
      if (!line.text.empty()) last = line.text;
      if (size_t at = line.text.find("Error: "); at != std::string::npos) {
        size_t start = line.text.rfind(' ', at);
        error = line.text.substr(start == std::string::npos ? 0 : start + 1);
      }
    }
  }
  if (!error.empty()) last = error;
  std::string what;
  if (facts.oom) {
    what = fmt::format("out of memory ({}Mi)", facts.memory_bytes / (1024 * 1024));
  } else if (facts.exit_code >= 0) {
    what = fmt::format("exited with code {}{}", facts.exit_code,
                       facts.before_ready ? " before it was ready" : "");
  } else {
    what = facts.engine_reason.empty() ? "replica failed" : facts.engine_reason;
  }
  return last.empty() || facts.oom ? what : what + ": " + last;
}

}  // namespace gantry::pool
