#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gantry::logstore {

// One call a replica ran: from `start` to `end` (wall clock).
struct CallSpan {
  std::string call_id;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
};

// The call a line of the replica written at `time` belongs to: the id of the one call of
// `calls` (the replica's) whose [start, end] holds `time`; "" when none does or when more
// than one does (concurrent calls can't be told apart). Pure.
std::string AttributeCall(const std::vector<CallSpan>& calls,
                          std::chrono::system_clock::time_point time);

}  // namespace gantry::logstore
