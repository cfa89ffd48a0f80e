#include "daemon/resource_wait.h"

#include <fmt/format.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/api_support.h"
#include "spec/duration.h"

namespace gantry::daemon::resource {
namespace {

using gateway::ApiRequest;
using nlohmann::json;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

constexpr milliseconds kDefaultWait{90'000};
constexpr milliseconds kMaxWait{600'000};
// After a failed start, how long the answer waits for the pool to have read the dead
// replica's log (its removal task does, right after the death) so the reason is the
// user-terms one.
constexpr milliseconds kFailureSettle{3'000};
constexpr milliseconds kPoll{50};

// One Acquire's answer, handed from the pool's thread to the waiting handler. The lease
// is dropped where it arrives: proving a replica took a call's slot is all that is needed.
struct AcquireWait {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<core::Status> outcome;
  bool cold = false;
};

// Acquires one slot and waits for the answer until `deadline`: nullopt on the deadline
// (a late answer is dropped then), else Ok (`cold` set) or the pool's error.
std::optional<core::Status> AcquireOnce(pool::Pool& pool, const std::string& ns,
                                        const std::string& name, Steady::time_point deadline,
                                        bool& cold) {
  auto wait = std::make_shared<AcquireWait>();
  pool.Acquire(ns, name, [wait](core::Result<pool::Lease> lease) {
    std::lock_guard<std::mutex> lock(wait->mu);
    if (lease) {
      wait->cold = lease->cold_start();
      wait->outcome = core::Ok();
    } else {
      wait->outcome = core::Status(lease.error());
    }
    wait->cv.notify_all();
    // The lease goes here: its slot is free again at once.
  });
  std::unique_lock<std::mutex> lock(wait->mu);
  if (!wait->cv.wait_until(lock, deadline, [&] { return wait->outcome.has_value(); })) {
    return std::nullopt;
  }
  cold = wait->cold;
  return wait->outcome;
}

// The failed replica's reason, once the pool has read its log: waits (bounded) while a
// dead replica is still being removed.
void SettleFailure(pool::Pool& pool, const std::string& ns, const std::string& name) {
  auto until = Steady::now() + kFailureSettle;
  while (Steady::now() < until) {
    auto st = pool.Describe(ns, name);
    if (!st) return;
    bool dead = false;
    for (const auto& r : st->replicas) dead |= r.state == "dead";
    if (!dead) return;
    std::this_thread::sleep_for(kPoll);
  }
}

gateway::ApiResponse Failure(Controller& c, const std::string& ns, const std::string& name,
                             int status, const std::string& fallback) {
  json body = {{"error", fallback}, {"phase", ""}, {"lastLines", json::array()}};
  if (auto d = c.Describe(ns, name)) {
    const json& st = (*d)["status"];
    body["phase"] = st.value("phase", "");
    std::string reason = st.value("reason", "");
    if (!reason.empty()) body["error"] = reason;
    if (st.contains("lastLogLines")) body["lastLines"] = st["lastLogLines"];
    if (st.contains("nextRetry") && !st["nextRetry"].is_null()) {
      body["nextRetry"] = st["nextRetry"];
    }
  }
  return JsonResponse(status, body);
}

}  // namespace

core::Result<gateway::ApiResponse> WaitFunction(Controller& c, const ApiRequest& r) {
  const std::string ns = PathParam(r, "ns");
  const std::string name = PathParam(r, "name");
  milliseconds timeout = kDefaultWait;
  if (std::string t = QueryParam(r, "timeout"); !t.empty()) {
    auto parsed = spec::ParseDuration(t);
    if (!parsed) {
      return core::Error::InvalidArgument(fmt::format("timeout: {}", parsed.error().message()));
    }
    timeout = std::min(*parsed, kMaxWait);
  }
  auto described = c.Describe(ns, name);
  if (!described) return described.error();
  std::string phase = (*described)["status"].value("phase", "");
  if (phase == "Building" || phase == "BuildFailed") {
    return Failure(c, ns, name, 409, fmt::format("function {} is not deployed ({})", name, phase));
  }
  pool::Pool& pool = c.pool();
  auto live = pool.Describe(ns, name);
  if (!live) return Failure(c, ns, name, 409, fmt::format("function {} is not running", name));
  if (live->ready > 0) {
    return JsonResponse(200,
                        {{"phase", "Ready"}, {"readyReplicas", live->ready}, {"coldStart", false}});
  }
  const auto deadline = Steady::now() + timeout;
  for (;;) {
    bool cold = false;
    auto outcome = AcquireOnce(pool, ns, name, deadline, cold);
    if (!outcome) {
      return Failure(
          c, ns, name, 504,
          fmt::format("no replica of {} was ready within {}", name, spec::FormatDuration(timeout)));
    }
    if (outcome->ok()) {
      int ready = 1;
      if (auto st = pool.Describe(ns, name)) ready = std::max(st->ready, 1);
      return JsonResponse(200, {{"phase", "Ready"}, {"readyReplicas", ready}, {"coldStart", cold}});
    }
    const core::Error& e = outcome->error();
    // The pool's own queue timeout came first while a replica still starts: ask again.
    if (e.code() == core::ErrorCode::kTimeout && Steady::now() < deadline) continue;
    if (e.code() == core::ErrorCode::kNotFound) return e;
    SettleFailure(pool, ns, name);
    int status = e.code() == core::ErrorCode::kTimeout ? 504 : 503;
    return Failure(c, ns, name, status, e.message());
  }
}

std::vector<gateway::Route> WaitRoutes(Controller& c) {
  return {{"POST", "/apis/gantry/v1/namespaces/{ns}/functions/{name}/wait",
           [&c](const ApiRequest& r) { return WaitFunction(c, r); }}};
}

}  // namespace gantry::daemon::resource
