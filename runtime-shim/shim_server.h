#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "admission.h"
#include "call.h"
#include "clock.h"
#include "config.h"
#include "http_listener.h"

namespace gantry::shim {

// The shim's front door, the same in every mode: serves /_/health and /_/ready, admits
// calls (429 beyond max in-flight, 503 while draining; 413 for big bodies is the
// listener's), gives each call its id and deadline (504 when it passes), hands calls to the
// mode's FunctionRunner, and drains on SIGTERM: in-flight calls finish, new ones are
// refused, then the function is stopped and Run returns.
// A call whose client closes its connection before the answer is abandoned: its slot is
// free at once and the runner stops its work (FunctionRunner::Abandon). A call that finds
// every slot taken first abandons the calls whose clients have hung up without the close
// having been seen yet, so a caller that closes one connection and calls on another never
// gets a 429 for the call it gave up (issue 19). Not thread-safe: one io thread.
class ShimServer {
 public:
  ShimServer(boost::asio::io_context& io, const ShimConfig& config, const Clock& clock,
             FunctionRunner& runner);

  // Starts the function and listens. Returns false with `error` when either fails.
  bool Start(std::string& error);
  // SIGTERM/SIGINT: the first starts a drain bounded by the grace period, a second one
  // stops at once.
  void OnSignal(int signal);
  // The status the shim exits with once the io_context runs out of work (0 after a drain).
  int exit_code() const { return exit_code_; }

 private:
  void Handle(HttpRequest&& request, Responder respond);
  std::string NewCallId(const HttpRequest& request);
  // Abandons a call in flight whose client closed its connection.
  void HungUp(const std::shared_ptr<Call>& call);
  // Abandons every unanswered call whose client has closed; returns how many.
  std::size_t AbandonHungUp();
  void CheckDrained();
  void StopFunction();
  void WaitForExit(std::chrono::steady_clock::time_point kill_at);
  void Finish(int exit_code);
  void Fatal(int exit_code, const std::string& message);

  boost::asio::io_context& io_;
  const ShimConfig& config_;
  const Clock& clock_;
  FunctionRunner& runner_;
  HttpListener listener_;
  Admission admission_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer exit_timer_;
  std::map<std::string, std::shared_ptr<Call>> calls_;  // in flight, by id
  uint64_t next_call_ = 0;
  std::string id_prefix_;
  bool stopping_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
};

}  // namespace gantry::shim
