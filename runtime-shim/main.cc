// gantry-shim: PID 1 of every template-built function container. main only wires the
// parts together: configuration, the mode's runner, the front server and signals.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clock.h"
#include "config.h"
#include "exec_runner.h"
#include "http_runner.h"
#include "log.h"
#include "process.h"
#include "runtime_api_runner.h"
#include "shim_server.h"

extern char** environ;

namespace {

// Exit statuses: 0 after a drain, 2 bad configuration, 3 the function keeps exiting
// before it gets ready, 126/127 the function's command can't be started (as shells do).
constexpr int kExitConfig = 2;
constexpr int kExitCantRun = 127;

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** var = environ; var != nullptr && *var != nullptr; ++var) {
    const char* eq = std::strchr(*var, '=');
    if (eq != nullptr)
      env.emplace(std::string(*var, static_cast<std::size_t>(eq - *var)), std::string(eq + 1));
  }
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gantry::shim;
  std::vector<std::string> args(argv + 1, argv + argc);
  ConfigResult parsed = ParseConfig(Environment(), args);
  if (!parsed.config) {
    std::fprintf(stderr, "gantry-shim: %s\n\n%s", parsed.error.c_str(), kUsage);
    return kExitConfig;
  }
  // Not const: a stem cell gets its late settings when it is specialised (ShimServer).
  ShimConfig& config = *parsed.config;
  if (config.show_version) {
    std::printf("gantry-shim %s\n", GANTRY_VERSION);
    return 0;
  }
  if (config.show_help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // A client that goes away mid-response must not kill the shim.
  ::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io(1);
  SystemClock clock;
  ProcessReaper reaper(io);
  std::unique_ptr<FunctionRunner> runner;
  switch (config.mode) {
    case Mode::kExec:
      runner = std::make_unique<ExecRunner>(io, config, reaper);
      break;
    case Mode::kHttp:
      runner = std::make_unique<HttpRunner>(io, config, clock, reaper);
      break;
    case Mode::kRuntimeApi:
      runner = std::make_unique<RuntimeApiRunner>(io, config, clock, reaper);
      break;
  }
  ShimServer server(io, config, clock, *runner);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      server.OnSignal(signal);
      wait_signal();
    });
  };
  wait_signal();

  std::string error;
  if (!server.Start(error)) {
    LogShim("function can't run: " + error);
    runner->Stop(SIGKILL);
    return kExitCantRun;
  }
  io.run();
  runner.reset();
  return server.exit_code();
}
