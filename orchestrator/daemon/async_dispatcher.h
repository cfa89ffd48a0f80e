#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/callback_policy.h"
#include "gateway/backend.h"
#include "http/http.h"
#include "store/store.h"

namespace gantry::daemon {

struct AsyncOptions {
  int workers = 2;  // threads running queued calls (0: queue only)
  // Bounds on the queue (0: none); beyond them a new call is answered 429.
  store::AsyncQueueLimits queue{
      .max_calls = 10'000, .max_calls_per_function = 0, .max_bytes = 1ll << 30};
  std::size_t max_body_bytes = 6 << 20;     // of one call (the shim's limit); 413 beyond
  std::size_t max_result_bytes = 16 << 20;  // of a function's answer, kept for the callback
  // Of a function's answer kept in the call's invocation record (the rest is cut off and
  // the record says "truncated").
  std::size_t max_record_result_bytes = 64 << 10;
  std::chrono::milliseconds retry_delay{1000};  // before the 2nd attempt, doubled after each
  CallbackPolicy callbacks;                     // where X-Callback-Url may point
};

// Asynchronous invocation: `POST /async-function/{name}[.{ns}][/{path}][?{query}]` answers
// 202 with a call id once the call is in the store (so a crash after that loses nothing);
// worker threads run queued calls through gantryd's own gateway (over loopback, with the
// path and query exactly as sent), retry what the function could not take
// (429/502/503/504, up to 5 attempts with back-off), keep each call's state in its
// invocation record (queued at enqueue, running at claim, queued again for a retry,
// succeeded or failed with the result, bounded by max_record_result_bytes),
// and POST the result to the call's X-Callback-Url if it has one (with X-Call-Id and
// X-Function-Status). Calls running when gantryd stopped run again on the next start: at
// least once. A call a trigger queued (cron, topic) is retried on any 5xx too, and when its
// last attempt fails it is kept as a dead letter (store::Store::FinishAsync), to be replayed.
//
// The route answers 400 for a path the invoke-path parser refuses, a bad X-Call-Id (1–64
// of [A-Za-z0-9._-]) or X-Callback-Url (see CallbackPolicy), 404 for a function that is not
// deployed, 409 for a call id already queued, 413 for a body over max_body_bytes and 429
// when the queue is full. Callbacks obey `callbacks` again at delivery.
//
// When the store fails to take a call's outcome (finished, or back to the queue for a
// retry), the dispatcher keeps the outcome in memory and writes it again before claiming
// more work, logging each failure with the call id: the call stays "running" in the store
// meanwhile, so it is neither claimed again nor lost; only if gantryd stops before the
// write succeeds does it run once more after the restart (logged as such). Thread-safe.
class AsyncDispatcher {
 public:
  AsyncDispatcher(store::Store& store, AsyncOptions options, http::Sender send = http::Send)
      : store_(store), options_(std::move(options)), send_(std::move(send)) {}
  ~AsyncDispatcher();  // Stop()s

  // Re-queues calls left running by a previous gantryd and starts the workers, which call
  // functions at `gateway_url` (e.g. "http://127.0.0.1:8080").
  core::Status Start(std::string gateway_url);
  void Stop();

  // The route for the gateway (no token needed, like sync invoke).
  gateway::Route Route();

  // What a worker does once: writes outcomes the store refused before, then claims one due
  // call and runs it. Returns whether it ran a call. (Workers loop on it; tests call it
  // with workers = 0.)
  bool RunOnce();

  // Outcomes the store has not taken yet (see above).
  std::size_t PendingOutcomes();

 private:
  // A call's outcome for the store: finished (removed), or queued again after `delay`.
  struct Outcome {
    std::string call_id;
    bool retry = false;
    std::chrono::milliseconds delay{0};
    bool dead_letter = false;  // finished, failed: kept as a dead letter
  };

  void Work();
  void Run(const store::AsyncCall& call);
  // The call's state in its invocation record after an attempt got `r` (logged if the
  // store refuses it: a record is not worth failing the call for).
  void RecordOutcome(const store::AsyncCall& call, int64_t started_ms, const http::Response& r,
                     const char* state);
  // Writes `o` to the store; false (logged) when the store refused it.
  bool Write(const Outcome& o);
  void WritePending();

  store::Store& store_;
  const AsyncOptions options_;
  const http::Sender send_;
  std::string gateway_url_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;        // guarded by mu_
  std::deque<Outcome> pending_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace gantry::daemon
