#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// An apply's build progress as the body of its answer (PUT .../functions/{name} with
// `Accept: application/x-ndjson` or `?progress=1`): one JSON object a line,
//   {"type":"step","text":"Step 2/7 : RUN pip install ..."}   a Dockerfile step begins
//   {"type":"output","text":"..."}                            a line of the build's output
// and, last, exactly one of
//   {"type":"result", ...the ApplyOutcome's JSON...}
//   {"type":"error","status":4xx/5xx,"error":"..."}           the status the apply would have
// The HTTP status (200) is sent before the build ends, so the last line carries the outcome.
//
// The producer (the apply's thread) calls Line() and then Finish() once; the gateway
// drains with Next(). Lines wait in a queue bounded by `max_queued_bytes`: past it, output
// lines are dropped (counted, and a line saying how many goes out before the next one
// sent), so a client that reads slowly never holds the build up; step and final lines are
// always kept. After Cancel() (the client went away) everything is dropped and the
// producer's calls return at once. Thread-safe.
class ApplyProgressStream : public gateway::BodyStream {
 public:
  explicit ApplyProgressStream(std::size_t max_queued_bytes = std::size_t{1} << 20)
      : max_queued_bytes_(max_queued_bytes) {}

  // One line of build output (docker::BuildProgressFn): a "step" line when it starts with
  // "Step ", else an "output" line; empty lines are skipped.
  void Line(std::string_view build_line);
  // The final line: {"type":"result", outcome...} or the error's
  // {"type":"error","status":gateway::ApiStatusFor(code),"error":message}. Once; later
  // lines and Finishes are ignored.
  void Finish(const core::Result<nlohmann::json>& outcome);

  void Next(ChunkFn deliver) override;
  void Cancel() override;

  // For tests: output lines dropped so far.
  std::size_t dropped() const;

 private:
  void Push(std::string line, bool droppable);
  // Takes what is queued as one chunk (the dropped note first). mu_ held.
  std::string TakeQueued();

  const std::size_t max_queued_bytes_;
  mutable std::mutex mu_;
  std::deque<std::string> queued_;  // guarded by mu_; each line ends in '\n'
  std::size_t queued_bytes_ = 0;    // guarded by mu_
  std::size_t dropped_ = 0;         // guarded by mu_; since the last note
  std::size_t dropped_total_ = 0;   // guarded by mu_
  bool finished_ = false;           // guarded by mu_
  bool cancelled_ = false;          // guarded by mu_
  ChunkFn waiting_;                 // guarded by mu_: a Next() with nothing to give yet
};

// Runs work (a streamed apply) on threads of its own, so that the handler can answer
// before the build ends. Finished threads are joined on the next Run; the destructor waits
// for every one still running (an apply is not cut off mid-way). Thread-safe.
class BackgroundWork {
 public:
  BackgroundWork() = default;
  BackgroundWork(const BackgroundWork&) = delete;
  BackgroundWork& operator=(const BackgroundWork&) = delete;
  ~BackgroundWork();

  void Run(std::function<void()> work);

 private:
  struct Job {
    std::thread thread;
    bool done = false;  // guarded by mu_
  };
  std::mutex mu_;
  std::list<Job> jobs_;  // guarded by mu_
};

}  // namespace gantry::daemon
