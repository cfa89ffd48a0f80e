#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "call.h"
#include "config.h"
#include "process.h"

namespace gantry::shim {

// exec mode: one process per call, started with posix_spawn. The request body goes to its
// stdin, its stdout is the response body (200 on exit status 0), its stderr goes to the log
// line by line with the call id, and any other exit is a 500 carrying the tail of stderr
// (a SIGKILL the shim did not send says "function process was killed (out of memory?)").
// Stdout up to 64 KiB is answered whole; beyond that the 200 head goes out and the body is
// streamed (chunked) at the caller's pace with one buffer in flight, so memory stays bounded
// whatever the function prints; a failure after that point cuts the body short (no final
// chunk). A caller that goes away (hangs up while the call runs, or stops reading a
// streamed body) gets the process group killed.
// The request is described in OpenFaaS classic-watchdog variables (Http_Method, ...).
// Always ready. A stem (config.stem) has no command until it is specialised: Specialize
// resolves the config's command and lays the function's environment over the shim's.
// A call that finds no other running is started on the io thread itself (posix_spawn is
// clone(CLONE_VM|CLONE_VFORK): it waits only for the child's exec, less than a hop to a
// helper thread and back); while others run, processes start side by side on four helper
// threads. Everything else, and every method, runs on the shim's io thread.
class ExecRunner final : public FunctionRunner {
 public:
  ExecRunner(boost::asio::io_context& io, const ShimConfig& config, ProcessReaper& reaper);
  ~ExecRunner() override;

  bool Start(FatalFn on_fatal, std::string& error) override;
  bool Ready() const override { return !stopped_; }
  void Invoke(const std::shared_ptr<Call>& call) override;
  void Abandon(const std::shared_ptr<Call>& call) override;
  void Specialize(const Specialization& specialization, SpecializedFn done) override;
  void Stop(int signal) override;
  bool Running() const override { return !children_.empty() || spawning_ > 0; }

 private:
  // argv_ from config_.command, its program looked up on PATH. False with `error` when it
  // isn't there.
  bool ResolveCommand(std::string& error);
  void Started(const std::shared_ptr<Call>& call, std::optional<SpawnedChild> child, int error);

  boost::asio::io_context& io_;
  const ShimConfig& config_;
  ProcessReaper& reaper_;
  std::vector<std::string> argv_;          // argv_[0] resolved once at start
  std::vector<std::string> base_env_;      // the shim's environment
  std::map<std::string, pid_t> children_;  // call id -> running child
  int spawning_ = 0;                       // handed to spawner_, not yet Started
  bool stopped_ = false;
  boost::asio::thread_pool spawner_;  // last: joined before the rest goes
};

}  // namespace gantry::shim
