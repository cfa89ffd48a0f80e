#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/backend.h"
#include "store/store.h"

namespace gantry::daemon {

// Asynchronous invocation: `POST /async-function/{name}[.{ns}][/{path}]` answers 202 with a
// call id once the call is in the store (so a crash after that loses nothing), and worker
// threads run queued calls through gantryd's own gateway (over loopback), retry what the
// function could not take (429/502/503/504, up to 5 attempts with back-off), record each
// in the invocations table, and POST the result to the call's X-Callback-Url if it has one
// (with X-Call-Id and X-Function-Status). Calls running when gantryd stopped run again on
// the next start: at least once. Thread-safe.
class AsyncDispatcher {
 public:
  AsyncDispatcher(store::Store& store, int workers) : store_(store), workers_(workers) {}
  ~AsyncDispatcher();  // Stop()s

  // Re-queues calls left running by a previous gantryd and starts the workers, which call
  // functions at `gateway_url` (e.g. "http://127.0.0.1:8080").
  core::Status Start(std::string gateway_url);
  void Stop();

  // The route for the gateway (no token needed, like sync invoke).
  gateway::Route Route();

 private:
  void Work();
  void Run(const store::AsyncCall& call);

  store::Store& store_;
  int workers_;
  std::string gateway_url_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace gantry::daemon
