#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "gateway/backend.h"
#include "store/store.h"

namespace gantry::daemon {

struct SchedulerOptions {
  std::chrono::milliseconds poll{1000};  // how often the schedules are looked at
  // A tick this close to now is on time: `missed: skip` fires it. Older ones were missed.
  std::chrono::seconds on_time{60};
  store::AsyncQueueLimits queue;  // a tick that finds the queue full is tried again next poll
};

// One cron trigger as `gantry get triggers` shows it.
struct CronTriggerStatus {
  std::string namespace_name;
  std::string function;
  int index = 0;  // in spec.triggers
  std::string cron;
  std::string timezone;
  std::string missed;        // "once" or "skip"
  int64_t last_unix_ms = 0;  // the last tick fired (or skipped); 0 none yet
  int64_t next_unix_ms = 0;  // the next tick; 0 none
  std::string error;         // why it can't fire (an unknown time zone)
};

// The deployed functions subscribed to each topic ({topic: NAME} in spec.triggers): topic
// -> [(namespace, function)], sorted. The store's errors.
core::Result<std::map<std::string, std::vector<std::pair<std::string, std::string>>>>
TopicSubscriptions(store::Store& store);

// Fires the cron triggers of deployed functions (spec.triggers with `cron`): each tick
// becomes a durable async call (trigger "cron", X-Gantry-Trigger: cron and
// X-Gantry-Cron-Tick: the tick in RFC 3339 UTC, the trigger's body and headers), queued in
// the same store transaction that records the tick as the trigger's last one
// (store::Store::FireTick): a crash loses no tick and fires none twice. A trigger that is
// new (or whose cron or time zone changed) starts from now. Ticks missed while gantryd was
// down (or the queue was full) fire once, as the latest of them, at the next poll
// (`missed: once`; X-Gantry-Missed-Ticks says how many it stands for), or not at all
// (`missed: skip`: only a tick within `on_time` fires). Time is the clock's Wall().
// Thread-safe.
class TriggerScheduler {
 public:
  TriggerScheduler(store::Store& store, const core::Clock& clock, SchedulerOptions options = {})
      : store_(store), clock_(clock), options_(options) {}
  ~TriggerScheduler();  // Stop()s

  void Start();  // a thread that calls RunOnce every poll
  void Stop();

  // One pass: fires what is due now. Returns how many calls it queued.
  int RunOnce();

  // The cron triggers of `ns` (every namespace when empty), by namespace, function, index.
  core::Result<std::vector<CronTriggerStatus>> List(const std::string& ns);

  // GET /apis/gantry/v1/namespaces/{ns}/triggers and GET /apis/gantry/v1/triggers:
  // {"kind": "TriggerList", "items": [{"namespace", "function", "index", "type": "cron",
  // "cron", "timezone", "missed", "lastFire", "nextFire", "error"} and {"type": "topic",
  // "topic"} items]}.
  std::vector<gateway::Route> Routes();

 private:
  void Work();

  store::Store& store_;
  const core::Clock& clock_;
  const SchedulerOptions options_;
  std::mutex run_mu_;  // one pass at a time
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace gantry::daemon
