#include "supervisor.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "log.h"

namespace gantry::shim {

ProcessSupervisor::ProcessSupervisor(boost::asio::io_context& io, ProcessReaper& reaper,
                                     const Clock& clock, std::string what,
                                     std::vector<std::string> argv, std::vector<std::string> env,
                                     Hooks hooks)
    : io_(io),
      reaper_(reaper),
      clock_(clock),
      what_(std::move(what)),
      argv_(std::move(argv)),
      env_(std::move(env)),
      hooks_(std::move(hooks)),
      restart_timer_(io) {}

bool ProcessSupervisor::Start(std::string& error) {
  const char* path = std::getenv("PATH");
  auto program = FindExecutable(argv_.front(), path ? path : "/usr/bin:/bin");
  if (!program) {
    error = "command not found or not executable: " + argv_.front();
    return false;
  }
  argv_[0] = *program;
  return SpawnOnce(error);
}

bool ProcessSupervisor::SpawnOnce(std::string& error) {
  SpawnOptions options;
  options.argv = argv_;
  options.env = env_;
  int spawn_error = 0;
  auto child = Spawn(options, spawn_error);
  if (!child) {
    error = "cannot start " + argv_[0] + ": " + std::strerror(spawn_error);
    return false;
  }
  pid_ = child->pid;
  policy_.Started(clock_.Now());
  LogShim(what_ + " started (pid " + std::to_string(pid_) + ")");
  for (auto [fd, stream] :
       {std::pair{child->stdout_fd, "stdout"}, std::pair{child->stderr_fd, "stderr"}}) {
    std::make_shared<OutputPump>(io_, fd, stream, hooks_.call_id, nullptr, nullptr)->Start();
  }
  reaper_.Watch(pid_, [this](int status) { OnExit(status); });
  if (hooks_.on_started) hooks_.on_started();
  return true;
}

void ProcessSupervisor::OnExit(int wait_status) {
  pid_t old = pid_;
  pid_ = -1;
  // Whatever it started goes with it.
  ::kill(-old, SIGKILL);
  if (hooks_.on_exit) hooks_.on_exit(wait_status);
  if (stopped_) {
    LogShim(what_ + " stopped: " + DescribeWaitStatus(wait_status));
    return;
  }
  auto delay = policy_.Exited(clock_.Now());
  if (!delay) {
    hooks_.on_fatal(3, what_ + " exited " + std::to_string(policy_.unready_exits()) +
                           " times before getting ready (last: " + DescribeWaitStatus(wait_status) +
                           ")");
    return;
  }
  LogShim(what_ + " exited (" + DescribeWaitStatus(wait_status) + "); restarting in " +
          std::to_string(delay->count()) + " ms");
  restart_timer_.expires_after(*delay);
  restart_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    std::string error;
    if (!SpawnOnce(error)) hooks_.on_fatal(127, error);
  });
}

void ProcessSupervisor::Kill(int signal) {
  if (pid_ > 0) ::kill(-pid_, signal);
}

void ProcessSupervisor::Stop(int signal) {
  stopped_ = true;
  restart_timer_.cancel();
  if (pid_ > 0) ::kill(-pid_, signal);
}

}  // namespace gantry::shim
