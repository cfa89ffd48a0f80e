#include "logstore/call_attribution.h"

namespace gantry::logstore {

std::string AttributeCall(const std::vector<CallSpan>& calls,
                          std::chrono::system_clock::time_point time) {
  const CallSpan* found = nullptr;
  for (const auto& c : calls) {
    if (time < c.start || time > c.end) continue;
    if (found != nullptr) return "";
    found = &c;
  }
  return found == nullptr ? "" : found->call_id;
}

}  // namespace gantry::logstore
