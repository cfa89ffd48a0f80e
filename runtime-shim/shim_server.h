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
// gets a 429 for the call it gave up (issue 19).
// A stem cell (config.stem) belongs to no function until POST /_/specialize: before that
// calls get 503 {"error": "not specialised"}, /_/ready says whether the stem is loaded
// (FunctionRunner::Ready), and the one /_/specialize that parses makes it the function's:
// `config` gets the function's late settings (ApplySpecialization; the admission limit
// and the body limit follow), the runner is specialised, and the request is answered
// once that is over: 200 {"ready": true}, 502 {"error"} when the function can't load, 504
// past the ready timeout (both leave the shim exiting as one whose function can't run); a
// malformed body 400 (still a stem); every later /_/specialize 409. The protocol is
// /work/briefs/protocol14.md. Not thread-safe: one io thread.
class ShimServer {
 public:
  ShimServer(boost::asio::io_context& io, ShimConfig& config, const Clock& clock,
             FunctionRunner& runner);

  // Starts the function and listens. Returns false with `error` when either fails.
  bool Start(std::string& error);
  // SIGTERM/SIGINT: the first starts a drain bounded by the grace period, a second one
  // stops at once.
  void OnSignal(int signal);
  // The status the shim exits with once the io_context runs out of work (0 after a drain).
  int exit_code() const { return exit_code_; }

  // Answers one request: what the listener calls for each (tests call it directly).
  void Handle(HttpRequest&& request, Responder respond);

 private:
  // A stem cell's life: kWaiting for /_/specialize, kSpecialising until the function is
  // ready, then kSpecialised (an ordinary replica's shim) or kFailed (exiting).
  enum class Stem { kNone, kWaiting, kSpecialising, kSpecialised, kFailed };

  void HandleShimEndpoint(const HttpRequest& request, const Responder& respond);
  void Specialize(const HttpRequest& request, const Responder& respond);
  // The end of a specialisation, answered to the /_/specialize caller with `status`: 200
  // (ready), else 502 or 504 with `error`, and the shim gives up.
  void Specialized(unsigned status, const std::string& error, const Responder& respond);
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
  ShimConfig& config_;  // changed only by a specialisation
  const Clock& clock_;
  FunctionRunner& runner_;
  HttpListener listener_;
  Admission admission_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer exit_timer_;
  boost::asio::steady_timer specialize_timer_;          // the ready timeout of a specialisation
  std::map<std::string, std::shared_ptr<Call>> calls_;  // in flight, by id
  uint64_t next_call_ = 0;
  std::string id_prefix_;
  Stem stem_ = Stem::kNone;
  bool stopping_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
};

}  // namespace gantry::shim
