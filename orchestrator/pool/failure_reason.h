#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pool/pool.h"

namespace gantry::pool {

// What is known about a replica that failed: how it ended and what it printed last.
struct FailureFacts {
  int exit_code = -1;         // the container's exit code; -1 unknown (it did not exit)
  bool oom = false;           // the engine OOM-killed it
  bool before_ready = false;  // it never became ready
  int64_t memory_bytes = 0;   // its memory limit; 0 unknown
  std::string engine_reason;  // e.g. "health check failed"
  const std::vector<LogLine>* last_lines = nullptr;  // oldest first; may be null
};

// One line in user terms, saying why the replica failed, for status, events and error
// bodies. Decided in this order:
//  - OOM: "out of memory (128Mi)" (the limit as a manifest writes it; without a known
//    limit "out of memory");
//  - the handler's own error, from the lines: a Lambda Runtime API init error the shim
//    logged, a Python traceback's last exception, a node error ("Error: Cannot find module
//    'x'"): "handler import failed: ModuleNotFoundError: No module named 'requests'" when it
//    happened while loading the handler (or the replica never got ready), "handler failed:
//    ..." otherwise;
//  - the shim's own fatal message ("function can't run: command not found or not
//    executable: ./handler.sh");
//  - the exit: 137 "killed (SIGKILL)", 139 "crashed (SIGSEGV)", other signals likewise,
//    "exited with code N before it was ready" / "exited with code N", then ": <last line>";
//  - else engine_reason (": <last line>" added), else the last non-empty line, else
//    "stopped for an unknown reason".
// The shim's "[<call id>] <stream>: " prefixes are taken off, and host paths (gantryd's
// state and run directories, unix socket paths) never appear (ScrubHostPaths). Pure.
std::string DescribeFailure(const FailureFacts& facts);

// `text` with every path that names something on gantryd's host replaced by a neutral
// word: paths below /var/lib/gantry or below one of `host_dirs` (the run and state
// directories gantryd was given) become "<gantry dir>", and a path of a unix socket
// ("....sock", "unix:/...") becomes "<socket>". Paths inside a function's container
// (/var/task/handler.py) are kept: they are the user's. Pure.
std::string ScrubHostPaths(std::string_view text, const std::vector<std::string>& host_dirs = {});

// The function's output line as the user wrote it: `text` without the shim's "[<call id>]
// <stream>: " prefix (when it has one). Pure.
std::string_view StripShimPrefix(std::string_view text);

// The line of `lines` worth showing a caller as the function's last words, scrubbed of host
// paths: the handler's error line when there is one (a traceback's exception, a node error,
// the shim's init error line), else the shim's fatal message, else the last function line
// that is neither blank nor a stack frame, else the shim's last line; "" when there is none.
// Pure.
std::string LastLogLine(const std::vector<LogLine>& lines);

}  // namespace gantry::pool
