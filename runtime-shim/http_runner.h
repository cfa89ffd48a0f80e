#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "call.h"
#include "clock.h"
#include "config.h"
#include "process.h"
#include "supervisor.h"

namespace gantry::shim {

// http mode: starts the function's own HTTP server once (restarted if it exits), waits
// until its port accepts connections, and proxies each call to it -- method, target,
// headers and body -- over kept-alive loopback connections, passing its response back (whole up to
// 64 KiB, streamed as it arrives beyond that). Calls that arrive before it is ready wait (within
// their deadline). An abandoned call (timed out, or its client hung up) has its upstream connection
// closed, never reused, so the function server sees the client go too. Not thread-safe: runs on the
// shim's io thread.
class HttpRunner final : public FunctionRunner {
 public:
  HttpRunner(boost::asio::io_context& io, const ShimConfig& config, const Clock& clock,
             ProcessReaper& reaper);

  bool Start(FatalFn on_fatal, std::string& error) override;
  bool Ready() const override { return ready_; }
  void Invoke(const std::shared_ptr<Call>& call) override;
  void Abandon(const std::shared_ptr<Call>& call) override;
  void Stop(int signal) override;
  bool Running() const override { return supervisor_ && supervisor_->running(); }

 private:
  struct Exchange;
  void Probe();
  // `resent`: the call was sent once already and the server closed without answering; it
  // is not sent a third time (a request that crashes the server would loop otherwise).
  void Proxy(const std::shared_ptr<Call>& call, bool resent = false);
  void Connect(const std::shared_ptr<Exchange>& exchange);
  void Send(const std::shared_ptr<Exchange>& exchange);
  void ReadBody(const std::shared_ptr<Exchange>& exchange);
  void Done(const std::shared_ptr<Exchange>& exchange);
  void Fail(const std::shared_ptr<Exchange>& exchange, const std::string& what);

  boost::asio::io_context& io_;
  const ShimConfig& config_;
  const Clock& clock_;
  ProcessReaper& reaper_;
  boost::asio::ip::tcp::endpoint upstream_;
  std::optional<ProcessSupervisor> supervisor_;
  boost::asio::steady_timer probe_timer_;
  std::chrono::steady_clock::time_point probe_until_{};
  std::shared_ptr<boost::asio::ip::tcp::socket> probe_socket_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> idle_;  // kept-alive connections
  struct Waiting {
    std::shared_ptr<Call> call;
    bool resent = false;  // see Proxy
  };
  std::deque<Waiting> waiting_;  // arrived before the server was ready (or came back to wait)
  std::map<std::string, std::shared_ptr<Exchange>> active_;  // call id -> exchange
  uint64_t generation_ = 0;  // bumped per server process; idle sockets of old ones go
  bool ready_ = false;
  bool stopped_ = false;
};

}  // namespace gantry::shim
