#pragma once

// PLACEHOLDER (issue 13, "status" part): the "failures" part owns this file and its real
// implementation; at merge theirs is kept. Only the signature matters here.

#include <cstdint>
#include <string>
#include <vector>

#include "pool/pool.h"

namespace gantry::pool {

struct FailureFacts {
  int exit_code = -1;
  bool oom = false;
  bool before_ready = false;
  int64_t memory_bytes = 0;
  std::string engine_reason;  // e.g. "health check failed"
  const std::vector<LogLine>* last_lines = nullptr;
};

// One line in user terms: "handler import failed: ModuleNotFoundError: No module named
// 'requests'", "out of memory (128Mi)", "exited with code 3 before it was ready: <last line>".
std::string DescribeFailure(const FailureFacts& facts);

}  // namespace gantry::pool
