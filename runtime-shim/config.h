#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::shim {

enum class Mode { kExec, kHttp, kRuntimeApi };

// Where the shim listens: a unix socket path (the default) or a TCP host:port.
struct ListenAddress {
  bool is_unix = true;
  std::string path;  // unix only
  std::string host;  // tcp only
  unsigned short port = 0;
};

// Everything the shim is configured with; validated once by ParseConfig and immutable after,
// except in a stem cell: there POST /_/specialize changes the fields marked "late" once
// (ApplySpecialization), before anything reads them for a call.
struct ShimConfig {
  Mode mode = Mode::kExec;
  std::vector<std::string> command;  // the function: argv of the program to run (late)
  ListenAddress listen{true, "/run/gantry/shim.sock", "", 0};
  std::string upstream_host = "127.0.0.1";  // http mode: where the function's server listens
  unsigned short upstream_port = 8080;
  std::chrono::milliseconds timeout{30000};        // per request (late)
  std::chrono::milliseconds grace{8000};           // drain on SIGTERM
  std::chrono::milliseconds ready_timeout{30000};  // function process up and accepting
  std::size_t max_inflight = 64;                   // late
  // runtime-api: handler processes, each running one call at a time. Defaults to
  // max_inflight when that is given (the pool gives it: the replica's concurrency), else 1;
  // never more than max_inflight.
  std::size_t handlers = 1;                               // late
  std::size_t max_body = std::size_t{6} * 1024 * 1024;    // request body limit in bytes (late)
  std::string content_type = "application/octet-stream";  // exec mode responses
  // GANTRY_FUNCTION_NAME or AWS_LAMBDA_FUNCTION_NAME (late)
  std::string function_name = "function";
  // A stem cell (GANTRY_STEM=1 or --stem; exec and runtime-api only): the shim starts
  // belonging to no function and becomes one's at POST /_/specialize (specialization.h),
  // which also gives the settings marked "late" above their final values. An exec stem
  // needs no command (it comes then).
  bool stem = false;
  bool show_help = false;
  bool show_version = false;
};

struct ConfigResult {
  std::optional<ShimConfig> config;
  std::string error;  // set when config is empty
};

// Builds the configuration from environment variables (GANTRY_*, plus OpenFaaS's
// `fprocess` for the command) overridden by command-line flags; everything after "--" is
// the command. Returns the config, or an error naming the variable or flag at fault.
ConfigResult ParseConfig(const std::map<std::string, std::string>& env,
                         const std::vector<std::string>& args);

// "30s", "250ms", "2m", "1.5s" or a bare number of seconds. Empty on anything else or a
// negative value.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "1048576", "512k", "6M", "1Gi" (k/K/Ki = 1024). Empty on anything else.
std::optional<std::size_t> ParseByteSize(std::string_view text);

// "unix:/path", "/path", "tcp:host:port", "host:port" or ":port". Empty on anything else.
std::optional<ListenAddress> ParseListenAddress(std::string_view text);

// Splits a command line on whitespace, honouring single and double quotes and backslash
// escapes (no expansion). Empty on an unterminated quote.
std::optional<std::vector<std::string>> SplitCommandLine(std::string_view text);

std::optional<Mode> ParseMode(std::string_view text);
std::string_view ModeName(Mode mode);

// The --help text, which also names every environment variable.
inline constexpr char kUsage[] =
    "usage: gantry-shim [flags] [-- command args...]\n"
    "\n"
    "The runtime inside every Gantry function container. Serves the function over HTTP on a\n"
    "unix socket (default) or a TCP port. Every flag has an environment variable twin.\n"
    "\n"
    "  --mode MODE            GANTRY_MODE           exec | http | runtime-api (default exec)\n"
    "  --listen ADDR          GANTRY_LISTEN         unix:/path, /path, tcp:host:port, :port\n"
    "                                               (default unix:/run/gantry/shim.sock)\n"
    "  --command CMDLINE      GANTRY_COMMAND        the function (or fprocess; or after --)\n"
    "  --upstream HOST:PORT   GANTRY_UPSTREAM       http mode: the function's server\n"
    "                                               (default 127.0.0.1:8080)\n"
    "  --timeout DUR          GANTRY_TIMEOUT        per request (default 30s) -> 504\n"
    "  --max-inflight N       GANTRY_MAX_INFLIGHT   concurrent calls (default 64) -> 429\n"
    "  --handlers N           GANTRY_HANDLERS       runtime-api: handler processes, each one\n"
    "                                               call at a time (default --max-inflight\n"
    "                                               when given, else 1)\n"
    "  --max-body SIZE        GANTRY_MAX_BODY       request body limit (default 6M) -> 413\n"
    "  --grace DUR            GANTRY_GRACE          drain period after SIGTERM (default 8s)\n"
    "  --ready-timeout DUR    GANTRY_READY_TIMEOUT  function up and accepting (default 30s)\n"
    "  --content-type TYPE    GANTRY_CONTENT_TYPE   exec mode response type\n"
    "  --function-name NAME   GANTRY_FUNCTION_NAME  reported to runtime-api handlers (default\n"
    "                                               AWS_LAMBDA_FUNCTION_NAME, else function)\n"
    "  --stem                 GANTRY_STEM=1         a stem cell (exec, runtime-api): no function\n"
    "                                               until POST /_/specialize gives its env,\n"
    "                                               command (exec) and limits\n"
    "  --version, --help\n";

}  // namespace gantry::shim
