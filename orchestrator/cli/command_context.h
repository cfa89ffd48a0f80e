#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "cli/client_config.h"
#include "core/clock.h"
#include "core/result.h"

namespace gantry::cli {

// What every verb shares: the global flags, where its requests go, where it prints, the
// clocks it waits on, and the exit code it leaves. main() uses the real ones; tests give a
// fake sender, memory streams and a ManualClock. Must outlive the CLI::App the verbs are
// added to; used by one thread.
struct CommandContext {
  ClientConfig flags;     // --server, --token, --token-file as given
  ConfigSources sources;  // the environment and default token file behind them
  http::Sender send = http::Send;
  http::Streamer stream = http::Stream;  // answers read as they arrive (logs -f)
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  // Deadlines (apply --wait) and the pauses between polls (apply --wait, logs -f).
  const core::Clock* clock = &core::SystemClock::Instance();
  std::function<void(std::chrono::milliseconds)> sleep = [](std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
  };
  // Wall-clock time, for logs --since.
  std::function<std::chrono::system_clock::time_point()> wall_now = std::chrono::system_clock::now;
  int exit_code = 0;  // 0 ok, 1 error, 2 usage error found by the verb itself

  // A client for the resolved configuration (flags > environment > config file > default).
  ApiClient Client() const { return ApiClient(ResolveConfig(flags, sources), send, stream); }
  // Prints `message` on err as one line; returns 1, the exit code of a failed verb.
  int Fail(const std::string& message) const;
};

// Runs a call and turns transport and HTTP (>= 300) errors into one line "gantry VERB: why".
core::Result<Reply> CheckedCall(
    ApiClient& api, const std::string& verb, const std::string& method, const std::string& path,
    const std::string& body = "",
    const std::vector<std::pair<std::string, std::string>>& headers = {});

// Whether `kind` (get, delete) names functions: functions, function, fn,
// functions.gantry.dev.
bool IsFunctionKind(const std::string& kind);

// A duration flag (--timeout, --since) read with spec::ParseDuration; kInvalidArgument
// "gantry VERB: FLAG: invalid duration ..." when it isn't one.
core::Result<std::chrono::milliseconds> ParseDurationFlag(const std::string& verb,
                                                          const std::string& flag,
                                                          const std::string& text);

}  // namespace gantry::cli
