#include "daemon/apply_stream.h"

#include <fmt/format.h>

#include <utility>

#include "daemon/api_support.h"
#include "gateway/error_mapping.h"

namespace gantry::daemon {
namespace {

std::string Ndjson(const nlohmann::json& j) {
  return DumpJson(j) + "\n";
}

}  // namespace

void ApplyProgressStream::Line(std::string_view build_line) {
  if (build_line.empty()) return;
  bool step = build_line.rfind("Step ", 0) == 0;
  Push(Ndjson({{"type", step ? "step" : "output"}, {"text", build_line}}), !step);
}

void ApplyProgressStream::Finish(const core::Result<nlohmann::json>& outcome) {
  nlohmann::json last;
  if (outcome) {
    last = {{"type", "result"}};
    if (outcome->is_object()) last.update(*outcome);
  } else {
    last = {{"type", "error"},
            {"status", gateway::ApiStatusFor(outcome.error().code())},
            {"error", outcome.error().message()}};
  }
  ChunkFn deliver;
  std::string chunk;
  {
    std::lock_guard lock(mu_);
    if (finished_ || cancelled_) return;
    queued_.push_back(Ndjson(last));
    queued_bytes_ += queued_.back().size();
    finished_ = true;
    if (!waiting_) return;
    deliver = std::move(waiting_);
    waiting_ = nullptr;
    chunk = TakeQueued();
  }
  deliver(std::move(chunk), true);
}

void ApplyProgressStream::Push(std::string line, bool droppable) {
  ChunkFn deliver;
  std::string chunk;
  {
    std::lock_guard lock(mu_);
    if (finished_ || cancelled_) return;
    if (droppable && queued_bytes_ + line.size() > max_queued_bytes_) {
      ++dropped_;
      ++dropped_total_;
      return;
    }
    queued_bytes_ += line.size();
    queued_.push_back(std::move(line));
    if (!waiting_) return;
    deliver = std::move(waiting_);
    waiting_ = nullptr;
    chunk = TakeQueued();
  }
  // Outside the lock: the gateway may call Next() again from inside.
  deliver(std::move(chunk), false);
}

std::string ApplyProgressStream::TakeQueued() {
  std::string chunk;
  if (dropped_ > 0) {
    chunk = Ndjson({{"type", "output"},
                    {"text", fmt::format("gantry: {} lines of build output dropped (the client "
                                         "read too slowly)",
                                         dropped_)}});
    dropped_ = 0;
  }
  for (auto& line : queued_) chunk += line;
  queued_.clear();
  queued_bytes_ = 0;
  return chunk;
}

void ApplyProgressStream::Next(ChunkFn deliver) {
  std::string chunk;
  bool done = false;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    if (queued_.empty() && !finished_) {
      waiting_ = std::move(deliver);
      return;
    }
    chunk = TakeQueued();
    done = finished_;
  }
  deliver(std::move(chunk), done);
}

void ApplyProgressStream::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  queued_.clear();
  queued_bytes_ = 0;
  waiting_ = nullptr;
}

std::size_t ApplyProgressStream::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_total_;
}

BackgroundWork::~BackgroundWork() {
  std::list<Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& job : jobs) job.thread.join();
}

void BackgroundWork::Run(std::function<void()> work) {
  std::list<Job> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), jobs_, it);
      it = next;
    }
    Job& job = jobs_.emplace_back();
    job.thread = std::thread([this, &job, work = std::move(work)] {
      work();
      std::lock_guard done_lock(mu_);
      job.done = true;
    });
  }
  for (auto& job : finished) job.thread.join();
}

}  // namespace gantry::daemon
