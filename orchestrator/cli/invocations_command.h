#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command_context.h"

// `gantry get invocations FN` and `gantry describe invocation ID`: the invocation records
// (GET /apis/gantry/v1/namespaces/{ns}/functions/{name}/invocations, .../invocations/{id}).
// get_command.cc and describe_command.cc hand these kinds over here.
namespace gantry::cli {

struct InvocationListFlags {
  bool failed = false;
  int limit = 0;      // 0: the server's default (50)
  std::string since;  // a duration ("10m") or an RFC 3339 time
};

// invocations, invocation, inv.
bool IsInvocationKind(const std::string& kind);

// Declares --failed, --limit and --since on `get` (they apply to `get invocations`).
void AddInvocationListFlags(CLI::App& get, InvocationListFlags& flags);

// gantry get invocations FN [--failed] [--limit N] [--since D] [-o wide|json|yaml]: a table
// CALL ID, STATUS, TRIGGER, COLD, DURATION, AGE (wide adds REPLICA, WAIT, IN, OUT, ERROR),
// newest first. Returns the exit code (2: no function named).
int RunGetInvocations(const std::string& ns, const std::string& function, const std::string& output,
                      const InvocationListFlags& flags, const CommandContext& ctx);

// gantry describe invocation ID [-n NS] [-o json|yaml]: every field, an async call's state,
// attempts and result. Returns the exit code.
int RunDescribeInvocation(const std::string& ns, const std::string& id, const std::string& output,
                          const CommandContext& ctx);

// For tests: the table and the description as printed.
std::string InvocationTable(const nlohmann::json& items, bool wide,
                            std::chrono::system_clock::time_point now);
std::string DescribeInvocationText(const nlohmann::json& record);

}  // namespace gantry::cli
