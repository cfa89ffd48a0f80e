#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "call.h"
#include "clock.h"
#include "config.h"
#include "http_listener.h"
#include "invocation_queue.h"
#include "process.h"
#include "supervisor.h"

namespace gantry::shim {

// runtime-api mode: serves the AWS Lambda Runtime API to up to `handlers` persistent
// handler processes, the Lambda model of one call per process, so that `handlers` calls run
// at the same time. Each process gets its own loopback port (AWS_LAMBDA_RUNTIME_API=
// 127.0.0.1:<port>), takes calls with GET /2018-06-01/runtime/invocation/next and answers
// them with POST .../invocation/{id}/response or .../error (matched by id). Calls queue
// until a handler asks for them; one handler starts with the shim and another one is
// started when calls queue with no handler free or starting, up to the limit: at once up
// to one handler per usable core, past that only once every handler has been busy with its
// call for 50 ms (memory is paid only for the concurrency a function really sees, and
// short calls share the handlers there are rather than crowd the cores with processes that
// starve the shim). Of the handlers waiting, the one that asked last gets the call (the
// warm one). Ready once a handler asks for work. A handler that exits is restarted
// (RestartPolicy) and only its own call answered 502; one that overruns a call's deadline,
// or runs a call whose client hung up, is killed and restarted (a handler can't be
// interrupted, and its slot is free at once; the next call may wait for the restart).
// A stem (config.stem): the first handler is started with GANTRY_STEM=1 and, before it
// loads any handler, asks GET /2018-06-01/runtime/gantry/specialization, a long poll
// answered 200 {"env": {...}} once the cell is specialised (at once after that, and with
// {} outside stem mode). Ready while the stem waits there; once specialised, ready as
// above. Specialize lays the function's environment over the handlers' (restarted and
// later handlers get it directly, without GANTRY_STEM) and is done when a handler asks
// for work (ok), posts init/error or exits first (the reason).
// Not thread-safe: runs on the shim's io thread.
class RuntimeApiRunner final : public FunctionRunner {
 public:
  RuntimeApiRunner(boost::asio::io_context& io, const ShimConfig& config, const Clock& clock,
                   ProcessReaper& reaper);
  ~RuntimeApiRunner() override;

  bool Start(FatalFn on_fatal, std::string& error) override;
  bool Ready() const override;
  void Invoke(const std::shared_ptr<Call>& call) override;
  void Abandon(const std::shared_ptr<Call>& call) override;
  void Specialize(const Specialization& specialization, SpecializedFn done) override;
  void Stop(int signal) override;
  bool Running() const override;

  // Handler processes started so far (never more than config.handlers).
  std::size_t handler_count() const { return handlers_.size(); }

 private:
  struct Handler;

  bool StartHandler(std::string& error);
  // Starts handlers while calls queue with none free or about to be, up to the limit.
  void Grow();
  void HandleApi(Handler& handler, HttpRequest&& request, const Responder& respond);
  void FinishCall(const std::string& id, const FunctionReply& reply);
  void LoseCalls(Handler& handler, const std::string& why);
  // Answers GET .../gantry/specialization: the function's env, or later (a stem).
  void AnswerSpecialization(const Responder& respond) const;
  // Ends a pending specialisation (on the io loop): ok, or why not.
  void EndSpecialization(bool ok, const std::string& error);

  boost::asio::io_context& io_;
  const ShimConfig& config_;
  const Clock& clock_;
  ProcessReaper& reaper_;
  FatalFn on_fatal_;
  std::vector<std::string> env_;  // the handlers' environment, less AWS_LAMBDA_RUNTIME_API
  InvocationQueue queue_;
  std::map<std::string, std::shared_ptr<Call>> calls_;  // queued or in flight
  std::vector<std::unique_ptr<Handler>> handlers_;      // index == slot
  // A stem's: handlers waiting for the specialisation (by slot), the function's env once
  // it is known, and who waits for the function to be ready.
  std::map<int, Responder> specialization_waiters_;
  std::optional<std::map<std::string, std::string>> function_env_;
  SpecializedFn specialized_;
  // Grow looks again when the handler busy the shortest time has been so for kGrowAfter.
  boost::asio::steady_timer grow_timer_;
  bool grow_pending_ = false;
  std::size_t cores_ = 1;  // usable: handlers up to this many start without waiting
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // for the timer's handler
  bool stopped_ = false;
};

}  // namespace gantry::shim
