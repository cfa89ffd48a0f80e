#include "daemon/trigger_scheduler.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "core/call_id.h"
#include "core/log.h"
#include "core/time_format.h"
#include "daemon/api_support.h"
#include "spec/zoned_cron.h"

namespace gantry::daemon {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

// Missed ticks counted at most (a year of every minute); past it the count says so.
constexpr int kMaxMissedCounted = 600'000;

struct CronTrigger {
  int index = 0;
  std::string cron;
  std::string timezone = "UTC";
  bool skip_missed = false;
  std::string body;
  json headers = json::object();
};

// A deployed function's triggers, from its stored canonical spec.
struct FunctionTriggers {
  std::string ns;
  std::string name;
  std::vector<CronTrigger> crons;
  std::vector<std::string> topics;
};

std::vector<FunctionTriggers> Deployed(const std::vector<store::FunctionRecord>& functions) {
  std::vector<FunctionTriggers> out;
  for (const auto& f : functions) {
    if (f.deployment_json.empty()) continue;  // nothing to call (yet)
    json spec = json::parse(f.spec_json, nullptr, false);
    if (!spec.is_object() || !spec.contains("spec") || !spec["spec"].is_object()) continue;
    const json& triggers = spec["spec"].value("triggers", json::array());
    if (!triggers.is_array() || triggers.empty()) continue;
    FunctionTriggers ft{.ns = f.namespace_name, .name = f.name};
    for (std::size_t i = 0; i < triggers.size(); ++i) {
      const json& t = triggers[i];
      if (!t.is_object()) continue;
      if (t.contains("topic")) {
        ft.topics.push_back(t.value("topic", ""));
        continue;
      }
      ft.crons.push_back(CronTrigger{.index = static_cast<int>(i),
                                     .cron = t.value("cron", ""),
                                     .timezone = t.value("timezone", "UTC"),
                                     .skip_missed = t.value("missed", "once") == "skip",
                                     .body = t.value("body", ""),
                                     .headers = t.value("headers", json::object())});
    }
    out.push_back(std::move(ft));
  }
  return out;
}

std::string Schedule(const CronTrigger& t) {
  return t.cron + " " + t.timezone;
}

using core::FromUnixMillis;
using core::UnixMillis;

using TickKey = std::tuple<std::string, std::string, int>;

core::Result<std::map<TickKey, store::TriggerTick>> Ticks(store::Store& store,
                                                          const std::string& ns) {
  auto ticks = store.ListTriggerTicks(ns);
  if (!ticks) return ticks.error();
  std::map<TickKey, store::TriggerTick> out;
  for (auto& t : *ticks) {
    out.emplace(TickKey{t.namespace_name, t.function, t.index}, std::move(t));
  }
  return out;
}

}  // namespace

core::Result<std::map<std::string, std::vector<std::pair<std::string, std::string>>>>
TopicSubscriptions(store::Store& store) {
  auto functions = store.ListFunctions("");
  if (!functions) return functions.error();
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  for (const FunctionTriggers& f : Deployed(*functions)) {
    for (const std::string& topic : f.topics) out[topic].emplace_back(f.ns, f.name);
  }
  return out;
}

TriggerScheduler::~TriggerScheduler() {
  Stop();
}

void TriggerScheduler::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Work(); });
}

void TriggerScheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TriggerScheduler::Work() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    RunOnce();
    lock.lock();
    wake_.wait_for(lock, options_.poll, [this] { return stopping_; });
  }
}

int TriggerScheduler::RunOnce() {
  std::lock_guard running(run_mu_);
  auto functions = store_.ListFunctions("");
  if (!functions) {
    core::Log(core::LogLevel::kWarn, "cron: functions not read: {}", functions.error().message());
    return 0;
  }
  auto ticks = Ticks(store_, "");
  if (!ticks) {
    core::Log(core::LogLevel::kWarn, "cron: ticks not read: {}", ticks.error().message());
    return 0;
  }
  const system_clock::time_point now = clock_.Wall();
  int fired = 0;
  for (const FunctionTriggers& f : Deployed(*functions)) {
    for (const CronTrigger& t : f.crons) {
      auto zoned = spec::ZonedCron::Make(t.cron, t.timezone);
      if (!zoned) continue;  // shown by List; the controller refuses it at apply
      store::TriggerTick tick{.namespace_name = f.ns,
                              .function = f.name,
                              .index = t.index,
                              .schedule = Schedule(t),
                              .last_unix_ms = UnixMillis(now)};
      auto stored = ticks->find(TickKey{f.ns, f.name, t.index});
      if (stored == ticks->end() || stored->second.schedule != tick.schedule) {
        // New, or a new schedule: it starts now (its first tick is the next one).
        if (auto s = store_.FireTick(tick, nullptr); !s) {
          core::Log(core::LogLevel::kWarn, "cron {}/{}: {}", f.ns, f.name, s.error().message());
        }
        continue;
      }
      auto next = zoned->Next(FromUnixMillis(stored->second.last_unix_ms));
      if (!next || *next > now) continue;
      // The latest tick due, and how many earlier ones it stands for.
      auto latest = *next;
      int missed = 0;
      while (missed < kMaxMissedCounted) {
        auto after = zoned->Next(latest);
        if (!after || *after > now) break;
        latest = *after;
        ++missed;
      }
      tick.last_unix_ms = UnixMillis(latest);
      const std::string at = core::FormatUtc(latest);
      if (t.skip_missed && now - latest >= options_.on_time) {
        core::Log(core::LogLevel::kInfo, "cron {}/{} trigger {}: tick {} missed, skipped", f.ns,
                  f.name, t.index, at);
        if (auto s = store_.FireTick(tick, nullptr); !s) {
          core::Log(core::LogLevel::kWarn, "cron {}/{}: {}", f.ns, f.name, s.error().message());
        }
        continue;
      }
      json headers = t.headers.is_object() ? t.headers : json::object();
      headers["X-Gantry-Trigger"] = "cron";
      headers["X-Gantry-Cron-Tick"] = at;
      if (missed > 0) headers["X-Gantry-Missed-Ticks"] = std::to_string(missed);
      store::AsyncCall call{.call_id = core::NewCallId(),
                            .namespace_name = f.ns,
                            .function = f.name,
                            .headers_json = headers.dump(),
                            .body = t.body,
                            .trigger = "cron"};
      auto done = store_.FireTick(tick, &call, options_.queue);
      if (!done) {
        core::Log(core::LogLevel::kWarn, "cron {}/{} tick {}: not queued, tried again: {}", f.ns,
                  f.name, at, done.error().message());
        continue;
      }
      if (*done) {
        ++fired;
        core::Log(core::LogLevel::kInfo, "cron {}/{} trigger {}: tick {} queued as {}{}", f.ns,
                  f.name, t.index, at, call.call_id,
                  missed > 0 ? fmt::format(" (for {} missed ticks too)", missed) : "");
      }
    }
  }
  return fired;
}

namespace {

// The cron triggers of `deployed` with their stored ticks, as List() returns them.
std::vector<CronTriggerStatus> CronStatuses(const std::vector<FunctionTriggers>& deployed,
                                            const std::map<TickKey, store::TriggerTick>& ticks,
                                            system_clock::time_point now) {
  std::vector<CronTriggerStatus> out;
  for (const FunctionTriggers& f : deployed) {
    for (const CronTrigger& t : f.crons) {
      CronTriggerStatus s{.namespace_name = f.ns,
                          .function = f.name,
                          .index = t.index,
                          .cron = t.cron,
                          .timezone = t.timezone,
                          .missed = t.skip_missed ? "skip" : "once"};
      auto stored = ticks.find(TickKey{f.ns, f.name, t.index});
      system_clock::time_point from = now;
      if (stored != ticks.end() && stored->second.schedule == Schedule(t)) {
        s.last_unix_ms = stored->second.last_unix_ms;
        from = FromUnixMillis(s.last_unix_ms);
      }
      if (auto zoned = spec::ZonedCron::Make(t.cron, t.timezone); !zoned) {
        s.error = zoned.error().message();
      } else if (auto next = zoned->Next(from); next) {
        // A tick due already fires at the next poll.
        s.next_unix_ms = UnixMillis(std::max<system_clock::time_point>(*next, now));
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace

core::Result<std::vector<CronTriggerStatus>> TriggerScheduler::List(const std::string& ns) {
  auto functions = store_.ListFunctions(ns);
  if (!functions) return functions.error();
  auto ticks = Ticks(store_, ns);
  if (!ticks) return ticks.error();
  return CronStatuses(Deployed(*functions), *ticks, clock_.Wall());
}

std::vector<gateway::Route> TriggerScheduler::Routes() {
  auto list = [this](const gateway::ApiRequest& r) -> core::Result<gateway::ApiResponse> {
    const std::string ns = PathParam(r, "ns");
    auto functions = store_.ListFunctions(ns);
    if (!functions) return functions.error();
    auto ticks = Ticks(store_, ns);
    if (!ticks) return ticks.error();
    const std::vector<FunctionTriggers> deployed = Deployed(*functions);
    const std::vector<CronTriggerStatus> crons = CronStatuses(deployed, *ticks, clock_.Wall());
    auto time = [](int64_t ms) {
      return ms == 0 ? json(nullptr) : json(core::FormatUtc(FromUnixMillis(ms)));
    };
    json items = json::array();
    for (const auto& c : crons) {
      items.push_back({{"namespace", c.namespace_name},
                       {"function", c.function},
                       {"index", c.index},
                       {"type", "cron"},
                       {"cron", c.cron},
                       {"timezone", c.timezone},
                       {"missed", c.missed},
                       {"lastFire", time(c.last_unix_ms)},
                       {"nextFire", time(c.next_unix_ms)},
                       {"error", c.error}});
    }
    for (const FunctionTriggers& f : deployed) {
      for (const std::string& topic : f.topics) {
        items.push_back(
            {{"namespace", f.ns}, {"function", f.name}, {"type", "topic"}, {"topic", topic}});
      }
    }
    return JsonResponse(200, {{"kind", "TriggerList"}, {"items", std::move(items)}});
  };
  return {{"GET", "/apis/gantry/v1/namespaces/{ns}/triggers", list},
          {"GET", "/apis/gantry/v1/triggers", list}};
}

}  // namespace gantry::daemon
