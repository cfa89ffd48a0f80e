#pragma once

#include <functional>
#include <stop_token>
#include <thread>

#include "docker/docker_client.h"
#include "pool/replica_lifecycle.h"

namespace gantry::pool {

// Follows the engine's die/oom events of this pool's containers on a thread of its own,
// reconnecting a second after the stream ends: a replica whose container exits is dead
// (and replaced); an OOM kill inside one is only recorded (its other calls carry on).
// Nothing else is a death: the stream asks only for die and oom, and OnEvent ignores any
// other action (the engine's pause and unpause of an idle replica, kill, stop, ...).
// Thread-safe; OnEvent may also be called by hand (tests).
class EventsWatcher {
 public:
  // `on_death` runs (with no lock held) after a replica was marked dead.
  EventsWatcher(ReplicaLifecycle& lifecycle, std::function<void()> on_death);
  ~EventsWatcher();  // Stop()s
  EventsWatcher(const EventsWatcher&) = delete;
  EventsWatcher& operator=(const EventsWatcher&) = delete;

  void Start();
  void Stop();  // idempotent
  void OnEvent(const docker::Event& event);

 private:
  void Loop(const std::stop_token& stop);

  ReplicaLifecycle& lifecycle_;
  std::function<void()> on_death_;
  std::jthread thread_;
};

}  // namespace gantry::pool
