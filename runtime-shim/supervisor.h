#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>
#include <vector>

#include "call.h"
#include "clock.h"
#include "process.h"
#include "restart_policy.h"

namespace gantry::shim {

// Keeps one persistent function process running (the http server or runtime-api handler):
// starts it in its own process group with stdout/stderr forwarded to the log, and when it
// exits tells the owner, then restarts it after the RestartPolicy's back-off -- or, when
// it keeps exiting before it ever got ready, reports the function as unable to run.
// Not thread-safe: runs on the shim's io thread.
class ProcessSupervisor {
 public:
  struct Hooks {
    std::function<void()> on_started;              // a new process is up (not yet ready)
    std::function<void(int wait_status)> on_exit;  // it exited (before any restart)
    std::function<std::string()> call_id;          // whom its output lines belong to
    FunctionRunner::FatalFn on_fatal;              // giving up
  };

  ProcessSupervisor(boost::asio::io_context& io, ProcessReaper& reaper, const Clock& clock,
                    std::string what, std::vector<std::string> argv, std::vector<std::string> env,
                    Hooks hooks);

  // Resolves the program on PATH and starts it. Returns false with `error` when it can't.
  bool Start(std::string& error);
  // The process answered (accepts connections / asked for work): back-off resets later.
  void MarkReady() { policy_.BecameReady(); }
  // The environment of the processes started from now on (restarts); the running one
  // keeps its own.
  void SetEnvironment(std::vector<std::string> env) { env_ = std::move(env); }
  // Signals the running process group; the exit (and restart) follows as usual.
  void Kill(int signal);
  // No more restarts; signals the process group if one runs.
  void Stop(int signal);
  bool running() const { return pid_ > 0; }

 private:
  bool SpawnOnce(std::string& error);
  void OnExit(int wait_status);

  boost::asio::io_context& io_;
  ProcessReaper& reaper_;
  const Clock& clock_;
  std::string what_;
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  Hooks hooks_;
  RestartPolicy policy_;
  boost::asio::steady_timer restart_timer_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

}  // namespace gantry::shim
