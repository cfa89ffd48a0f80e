#include "pool/events_watcher.h"

#include <fmt/format.h>

#include <charconv>
#include <condition_variable>
#include <mutex>

#include "core/log.h"

namespace gantry::pool {

using LogLevel = core::LogLevel;

EventsWatcher::EventsWatcher(ReplicaLifecycle& lifecycle, std::function<void()> on_death)
    : lifecycle_(lifecycle), on_death_(std::move(on_death)) {}

EventsWatcher::~EventsWatcher() {
  Stop();
}

void EventsWatcher::Start() {
  if (!thread_.joinable())
    thread_ = std::jthread([this](const std::stop_token& stop) { Loop(stop); });
}

void EventsWatcher::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void EventsWatcher::OnEvent(const docker::Event& event) {
  if (event.type != "container" || (event.action != "die" && event.action != "oom")) return;
  auto found = lifecycle_.FindContainer(event.id);
  if (!found) {
    // Not a replica: maybe a free stem cell, which must not be handed out dead.
    if (event.action == "die") lifecycle_.stem_cells().Died(event.id);
    return;
  }
  auto& [fn, replica] = *found;
  Deferred deferred;
  {
    std::lock_guard<std::mutex> lock(fn->mu);
    if (replica->state != ReplicaState::kReady && replica->state != ReplicaState::kStarting) return;
    if (replica->abandoned) return;
    if (event.action == "oom") {
      // The kernel killed one process in the container (a function call over its memory;
      // the shim answers that call with a 500). Only the container's end ("die": the shim,
      // PID 1, exited) makes the replica dead, so its other calls carry on.
      replica->out_of_memory = true;
      replica->last_error = "a function process ran out of memory and was killed";
      fn->last_error = fmt::format("replica {}: {}", replica->key, replica->last_error);
      core::Log(LogLevel::kWarn, "pool: {} replica {} ({}): {}", fn->key, replica->key, replica->id,
                replica->last_error);
      return;
    }
    auto code = event.attributes.find("exitCode");
    std::string reason = fmt::format("container exited (code {}){}",
                                     code == event.attributes.end() ? "?" : code->second,
                                     replica->out_of_memory ? " after running out of memory" : "");
    int exit_code = -1;
    if (code != event.attributes.end()) {
      std::from_chars(code->second.data(), code->second.data() + code->second.size(), exit_code);
    }
    lifecycle_.MarkDeadLocked(*fn, replica, reason, deferred, exit_code);
  }
  RunDeferred(deferred);
  if (on_death_) on_death_();
}

void EventsWatcher::Loop(const std::stop_token& stop) {
  docker::EventsOptions options;
  options.labels = lifecycle_.Selector();
  options.types = {"container"};
  options.actions = {"die", "oom"};
  while (!stop.stop_requested()) {
    auto status = lifecycle_.docker().Events(
        options,
        [this](const docker::Event& e) {
          OnEvent(e);
          return true;
        },
        stop);
    if (stop.stop_requested()) return;
    if (!status) core::Log(LogLevel::kWarn, "pool: events stream: {}", status.error().ToString());
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
  }
}

}  // namespace gantry::pool
