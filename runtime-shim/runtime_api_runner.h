#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "call.h"
#include "clock.h"
#include "config.h"
#include "http_listener.h"
#include "invocation_queue.h"
#include "process.h"
#include "supervisor.h"

namespace gantry::shim {

// runtime-api mode: serves the AWS Lambda Runtime API on a loopback port chosen at start
// and keeps one persistent handler process (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>) that
// takes calls with GET /2018-06-01/runtime/invocation/next and answers them with POST
// .../invocation/{id}/response or .../error. Calls queue until the handler asks for them.
// Ready once the handler first asks for work. A handler that exits is restarted and its
// call answered 502; one that overruns a call's deadline is killed and restarted.
// Not thread-safe: runs on the shim's io thread.
class RuntimeApiRunner final : public FunctionRunner {
 public:
  RuntimeApiRunner(boost::asio::io_context& io, const ShimConfig& config, const Clock& clock,
                   ProcessReaper& reaper);

  bool Start(FatalFn on_fatal, std::string& error) override;
  bool Ready() const override { return ready_; }
  void Invoke(const std::shared_ptr<Call>& call) override;
  void Abandon(const std::shared_ptr<Call>& call) override;
  void Stop(int signal) override;
  bool Running() const override { return supervisor_ && supervisor_->running(); }

  unsigned short api_port() const { return api_.port(); }

 private:
  void HandleApi(HttpRequest&& request, const Responder& respond);
  void FinishCall(const std::string& id, const FunctionReply& reply);

  boost::asio::io_context& io_;
  const ShimConfig& config_;
  const Clock& clock_;
  ProcessReaper& reaper_;
  HttpListener api_;
  InvocationQueue queue_;
  std::map<std::string, std::shared_ptr<Call>> calls_;  // queued or in flight
  std::optional<ProcessSupervisor> supervisor_;
  std::string last_id_;  // the call answered last: output that trails its answer
  bool ready_ = false;
  bool stopped_ = false;
};

}  // namespace gantry::shim
