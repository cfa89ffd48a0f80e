#include "daemon/function_events.h"

#include <fmt/format.h>

#include <vector>

#include "core/log.h"
#include "core/time_format.h"

namespace gantry::daemon {

using core::UnixMillis;

store::EventRecord EventFromPool(const pool::PoolEvent& e) {
  using Kind = pool::PoolEvent::Kind;
  store::EventRecord r{.namespace_name = e.namespace_name,
                       .name = e.name,
                       .time_unix_ms = UnixMillis(e.time.time_since_epoch().count() != 0
                                                      ? e.time
                                                      : std::chrono::system_clock::now()),
                       .type = "Normal",
                       .replica = e.replica.substr(0, 12)};
  switch (e.kind) {
    case Kind::kReplicaStarting:
      r.reason = "Started";
      r.message = e.reason == "adopted"
                      ? fmt::format("adopted running replica (generation {})", e.generation)
                      : fmt::format("started replica (generation {})", e.generation);
      break;
    case Kind::kReplicaReady:
      r.reason = "Ready";
      r.message = "replica is ready";
      break;
    case Kind::kReplicaDied: {
      r.type = "Warning";
      r.reason = e.oom ? "OOMKilled" : "Died";
      std::string code = e.exit_code >= 0 ? fmt::format("exit code {}", e.exit_code) : "";
      r.message = e.reason.empty() ? "replica died" : e.reason;
      if (!code.empty()) r.message += " (" + code + ")";
      if (e.before_ready) r.message = "before ready: " + r.message;
      break;
    }
    case Kind::kReplicaRemoved:
      r.reason = "Removed";
      r.message = e.reason.empty() ? "replica removed" : "replica removed: " + e.reason;
      break;
    case Kind::kStartFailed:
      r.type = "Warning";
      r.reason = "StartFailed";
      r.message = e.reason.empty() ? "replica failed to start" : e.reason;
      break;
    case Kind::kScaled:
      r.reason = "Scaled";
      r.message = fmt::format("scaled from {} to {} replicas{}", e.from, e.to,
                              e.reason.empty() ? "" : " (" + e.reason + ")");
      break;
  }
  return r;
}

store::EventRecord ControllerEvent(const std::string& ns, const std::string& name,
                                   const std::string& type, const std::string& reason,
                                   const std::string& message) {
  return store::EventRecord{.namespace_name = ns,
                            .name = name,
                            .time_unix_ms = UnixMillis(std::chrono::system_clock::now()),
                            .type = type,
                            .reason = reason,
                            .message = message};
}

FunctionEvents::FunctionEvents(store::Store& store, std::size_t max_queue)
    : store_(store), max_queue_(max_queue), thread_([this] { Loop(); }) {}

FunctionEvents::~FunctionEvents() {
  Stop();
}

pool::PoolEventFn FunctionEvents::Sink() {
  return [this](const pool::PoolEvent& e) { OnPoolEvent(e); };
}

void FunctionEvents::Add(store::EventRecord event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= max_queue_) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(event));
  }
  cv_.notify_one();
}

void FunctionEvents::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  written_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

void FunctionEvents::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  written_.notify_all();
}

int64_t FunctionEvents::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void FunctionEvents::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, all written
    std::vector<store::EventRecord> batch(std::make_move_iterator(queue_.begin()),
                                          std::make_move_iterator(queue_.end()));
    queue_.clear();
    writing_ = true;
    lock.unlock();
    if (auto s = store_.AppendEvents(batch); !s) {
      core::Log(core::LogLevel::kWarn, "events: {} not recorded: {}", batch.size(),
                s.error().ToString());
    }
    lock.lock();
    writing_ = false;
    written_.notify_all();
  }
}

}  // namespace gantry::daemon
