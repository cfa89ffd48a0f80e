#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http_listener.h"
#include "lambda_event.h"
#include "request_meta.h"
#include "specialization.h"

namespace gantry::shim {

// One request to the function, from the moment it is admitted until it is answered. The
// first Finish wins: a runner answering after the timeout already sent a 504 (or the other
// way round) is harmless. Not thread-safe: lives on the shim's io thread.
class Call {
 public:
  Call(std::string id, HttpRequest request, std::chrono::steady_clock::time_point deadline,
       Responder respond);
  ~Call();

  const std::string& id() const { return id_; }
  HttpRequest& request() { return request_; }
  const RequestMeta& meta() const { return meta_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  bool finished() const { return finished_; }

  // Answers the caller with the function's reply (X-Call-Id added). Returns false if the
  // call was already answered.
  bool Finish(const FunctionReply& reply);
  // Answers with a ready-made response (http mode passes the function's own through).
  bool Finish(HttpResponse response);

  // Starts a streamed answer with the function's response head (X-Call-Id added): the
  // body follows through the returned stream, chunked unless the head has a
  // Content-Length. The call counts as answered from now on (no 504 any more), but as in
  // flight until the stream is over (its last bytes written, or End). Returns null if the
  // call was already answered or the connection can't stream.
  std::shared_ptr<ResponseStream> StartStream(boost::beast::http::response_header<> head);
  bool streaming() const { return streaming_; }

  // The client went away before the answer: nothing is written (its connection closes) and
  // the call is done at once (OnFinished runs), so its slot is free before anyone can call
  // again. Returns false if the call was already answered (a streamed answer is over only
  // when the runner ends its stream).
  bool Abandon();
  // The client's connection while the call is unanswered; null once it is answered (or
  // for a responder without one).
  ClientConnection* client() const { return finished_ ? nullptr : respond_.client(); }

  // Runs once when the call is done, whoever answers it (the shim counts it out): before
  // the end of the answer is handed to the connection (the whole response, a streamed
  // body's last bytes or last chunk, or the close that cuts it off), so a caller that sees
  // the answer end and calls again at once finds the slot free.
  void OnFinished(std::function<void()> fn) { on_finished_ = std::move(fn); }

 private:
  void RunOnFinished();

  std::string id_;
  HttpRequest request_;
  RequestMeta meta_;
  std::chrono::steady_clock::time_point deadline_;
  Responder respond_;
  std::function<void()> on_finished_;
  bool finished_ = false;
  bool streaming_ = false;
};

// Runs the function for the shim in one of its modes. Implementations start and supervise
// the function's processes and answer every call they are given (Finish), possibly after
// the shim already gave up on it. Not thread-safe: everything runs on the io thread.
class FunctionRunner {
 public:
  // Called when the function can't run at all (its command keeps failing before it gets
  // ready): the shim answers what is pending and exits with `exit_code`.
  using FatalFn = std::function<void(int exit_code, const std::string& message)>;

  virtual ~FunctionRunner() = default;

  // Starts the function's persistent process, if the mode has one. Returns false with
  // `error` when it can't start at all.
  virtual bool Start(FatalFn on_fatal, std::string& error) = 0;
  // True once the function can take calls (/_/ready).
  virtual bool Ready() const = 0;
  // Runs one call; answers it with call->Finish, sooner or later.
  virtual void Invoke(const std::shared_ptr<Call>& call) = 0;
  // Nobody waits for the call any more -- it timed out and was answered 504, or its
  // client hung up (Call::Abandon) -- or its streamed answer is cut off: stop working on it
  // (kill its process, close its upstream exchange, or restart the handler running it).
  virtual void Abandon(const std::shared_ptr<Call>& call) = 0;
  // Stem mode: the runner becomes `specialization`'s function -- its environment over the
  // shim's for the function's processes, the command and limits already in the config
  // (ApplySpecialization) -- and calls `done` once, on the io thread: ok when the function
  // can take calls, else with one line saying why it can't (the shim then gives up). Not
  // before Start, at most once. Modes without stem cells answer "not a stem cell".
  using SpecializedFn = std::function<void(bool ok, const std::string& error)>;
  virtual void Specialize(const Specialization& specialization, SpecializedFn done);
  // Stops restarting and sends `signal` to every function process.
  virtual void Stop(int signal) = 0;
  // True while any function process is alive.
  virtual bool Running() const = 0;
};

}  // namespace gantry::shim
