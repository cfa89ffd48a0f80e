#include "daemon/async_dispatcher.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/call_id.h"
#include "core/log.h"
#include "daemon/api_support.h"
#include "daemon/resource_api.h"
#include "gateway/invoke_path.h"

namespace gantry::daemon {
namespace {

using nlohmann::json;

constexpr int64_t kMaxAttempts = 5;
using core::kMaxCallIdBytes;
using core::NewCallId;
using core::ValidCallId;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

gateway::ApiResponse Refuse(int status, const std::string& message, const std::string& function) {
  return JsonResponse(status, {{"error", message}, {"function", function}});
}

}  // namespace

AsyncDispatcher::~AsyncDispatcher() {
  Stop();
}

core::Status AsyncDispatcher::Start(std::string gateway_url) {
  gateway_url_ = std::move(gateway_url);
  auto requeued = store_.RequeueRunningAsync();
  if (!requeued) return requeued.error();
  if (*requeued > 0) {
    core::Log(core::LogLevel::kInfo, "async: {} call(s) interrupted by a stop queued again",
              *requeued);
  }
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Work(); });
  return core::Ok();
}

void AsyncDispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  WritePending();
  std::lock_guard lock(mu_);
  for (const auto& o : pending_) {
    core::Log(
        core::LogLevel::kError,
        "async {}: its outcome ({}) never reached the store; the call runs again on the next start",
        o.call_id, o.retry ? "retry" : "finished");
  }
  pending_.clear();
}

std::size_t AsyncDispatcher::PendingOutcomes() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void AsyncDispatcher::Work() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (RunOnce()) continue;
    // Nothing due: wait for a new call, or poll for delayed retries.
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
  }
}

bool AsyncDispatcher::RunOnce() {
  WritePending();
  auto claimed = store_.ClaimAsync();
  if (!claimed) {
    core::Log(core::LogLevel::kWarn, "async: {}", claimed.error().message());
    return false;
  }
  if (!claimed->has_value()) return false;
  Run(**claimed);
  return true;
}

bool AsyncDispatcher::Write(const Outcome& o) {
  core::Status s = o.retry ? store_.RetryAsync(o.call_id, o.delay.count())
                           : store_.FinishAsync(o.call_id, o.dead_letter);
  if (s.ok()) return true;
  if (s.error().code() == core::ErrorCode::kNotFound) {
    // Nothing left to write (only a second gantryd on the same state directory does this).
    core::Log(core::LogLevel::kWarn, "async {}: {}", o.call_id, s.error().message());
    return true;
  }
  core::Log(
      core::LogLevel::kError,
      "async {}: the store did not take its outcome ({}): {}; kept in memory and written again "
      "before the next call (if gantryd stops first, the call runs again on the next start)",
      o.call_id, o.retry ? "retry" : "finished", s.error().message());
  return false;
}

void AsyncDispatcher::WritePending() {
  std::deque<Outcome> todo;
  {
    std::lock_guard lock(mu_);
    todo.swap(pending_);
  }
  if (todo.empty()) return;
  std::deque<Outcome> failed;
  for (auto& o : todo) {
    if (Write(o)) {
      core::Log(core::LogLevel::kInfo, "async {}: outcome written to the store", o.call_id);
    } else {
      failed.push_back(std::move(o));
    }
  }
  std::lock_guard lock(mu_);
  for (auto& o : failed) pending_.push_front(std::move(o));
}

void AsyncDispatcher::Run(const store::AsyncCall& call) {
  std::vector<std::string> headers = {"X-Call-Id: " + call.call_id};
  json h = json::parse(call.headers_json, nullptr, false);
  if (h.is_object()) {
    for (const auto& [k, v] : h.items()) {
      if (v.is_string()) headers.push_back(k + ": " + v.get<std::string>());
    }
  }
  // The path and query go on exactly as the caller sent them. Calls queued by an older
  // gantryd are checked again by the same parser as new ones.
  std::string target = fmt::format("{}{}.{}{}", gateway::kInvokePrefix, call.function,
                                   call.namespace_name, call.path);
  int64_t started = NowMs();
  http::Response r;
  if (auto parsed = gateway::ParseInvokePath(target); !parsed) {
    r.status = 400;
    r.error = parsed.error().message();
  } else {
    r = send_({.method = call.method,
               .url = gateway_url_ + target,
               .headers = headers,
               .body = call.body,
               .timeout = std::chrono::seconds(600),
               .max_response_bytes = options_.max_result_bytes});
  }
  if (r.response_too_big) r.status = 502;  // the function answered, but too much to keep
  // A caller's call is retried when the function could not take it; a trigger's (cron,
  // topic: nobody waits for it) on any failure to answer, then it goes to the dead letters.
  const bool from_trigger = call.trigger != "async";
  bool retry = r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 ||
               r.status == 504 || (from_trigger && r.status >= 500);
  if (retry && !r.response_too_big && call.attempts < kMaxAttempts) {
    auto delay = options_.retry_delay * (int64_t{1} << (call.attempts - 1));
    core::Log(core::LogLevel::kInfo, "async {} {}/{}: attempt {} got {}; again in {} ms",
              call.call_id, call.namespace_name, call.function, call.attempts,
              r.status == 0 ? r.error : std::to_string(r.status), delay.count());
    RecordOutcome(call, started, r, "queued");
    Outcome o{.call_id = call.call_id, .retry = true, .delay = delay};
    if (!Write(o)) {
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(o));
    }
    return;
  }
  const bool succeeded = r.status >= 200 && r.status < 400 && !r.response_too_big;
  RecordOutcome(call, started, r, succeeded ? "succeeded" : "failed");
  if (!call.callback_url.empty()) {
    // Checked again: the policy may have changed since the call was queued.
    if (auto allowed = options_.callbacks.CheckUrl(call.callback_url); !allowed) {
      core::Log(core::LogLevel::kWarn, "async {}: no callback: {}", call.call_id,
                allowed.error().message());
    } else {
      std::string body = r.body;
      if (r.status == 0 || r.response_too_big || (r.body.empty() && !r.error.empty())) {
        body = DumpJson({{"error", r.error}});
      }
      const CallbackPolicy& policy = options_.callbacks;
      http::Response cb = send_(
          {.method = "POST",
           .url = call.callback_url,
           .headers = {"X-Call-Id: " + call.call_id, fmt::format("X-Function-Status: {}", r.status),
                       "X-Function-Name: " + call.function + "." + call.namespace_name},
           .body = body,
           .timeout = std::chrono::seconds(30),
           .max_response_bytes = 64 << 10,
           .allow_https = true,
           .address_filter = [&policy](const sockaddr& address) -> std::optional<std::string> {
             auto denied = policy.DeniedNetwork(&address);
             if (!denied) return std::nullopt;
             return fmt::format("callback address is in a denied network ({})", *denied);
           }});
      if (cb.status == 0 || cb.status >= 300) {
        core::Log(core::LogLevel::kWarn, "async {}: callback to {} failed: {}", call.call_id,
                  call.callback_url, cb.status == 0 ? cb.error : std::to_string(cb.status));
      }
    }
  }
  core::Log(core::LogLevel::kInfo, "async {} {}/{}: {} after {} attempt(s)", call.call_id,
            call.namespace_name, call.function,
            r.status == 0 || r.response_too_big ? r.error : std::to_string(r.status),
            call.attempts);
  Outcome o{.call_id = call.call_id, .dead_letter = from_trigger && !succeeded};
  if (o.dead_letter) {
    core::Log(core::LogLevel::kWarn, "async {} {}/{}: {} call failed every attempt: dead letter",
              call.call_id, call.namespace_name, call.function, call.trigger);
  }
  if (!Write(o)) {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(o));
  }
}

void AsyncDispatcher::RecordOutcome(const store::AsyncCall& call, int64_t started_ms,
                                    const http::Response& r, const char* state) {
  store::InvocationRecord o{.call_id = call.call_id,
                            .status = static_cast<int>(r.status),
                            .error = r.status == 0 || r.response_too_big ? r.error : "",
                            .started_unix_ms = started_ms,
                            .state = state,
                            .attempts = call.attempts};
  if (r.status != 0 && !r.response_too_big) {
    o.result_status = static_cast<int>(r.status);
    json headers = json::object();
    for (const auto& [k, v] : r.headers) headers[k] = v;
    o.result_headers_json = DumpJson(headers);
    o.result_truncated = r.body.size() > options_.max_record_result_bytes;
    o.result_body = r.body.substr(0, options_.max_record_result_bytes);
  }
  if (auto s = store_.RecordAsyncOutcome(o); !s) {
    core::Log(core::LogLevel::kWarn, "async {} {}/{}: state {} not recorded: {}", call.call_id,
              call.namespace_name, call.function, state, s.error().message());
  }
}

gateway::Route AsyncDispatcher::Route() {
  return gateway::Route{
      "POST", "/async-function/{target...}",
      [this](const gateway::ApiRequest& r) -> core::Result<gateway::ApiResponse> {
        // The one invoke-path parser, on the target as sent (path and query undecoded).
        auto parsed = gateway::ParseInvokePath(r.target, gateway::kAsyncInvokePrefix);
        if (!parsed) return parsed.error();
        std::string function = parsed->name + "." + parsed->ns;
        std::string call_id;
        if (auto id = r.headers.find("x-call-id"); id != r.headers.end() && !id->second.empty()) {
          if (!ValidCallId(id->second)) {
            return core::Error::InvalidArgument(fmt::format(
                "X-Call-Id must be 1 to {} letters, digits, '-', '_' or '.'", kMaxCallIdBytes));
          }
          call_id = id->second;
        } else {
          call_id = NewCallId();
        }
        std::string callback;
        if (auto cb = r.headers.find("x-callback-url"); cb != r.headers.end()) {
          if (auto s = options_.callbacks.CheckUrl(cb->second); !s) return s.error();
          callback = cb->second;
        }
        if (r.body.size() > options_.max_body_bytes) {
          return Refuse(413,
                        fmt::format("request body of {} bytes is over the async limit of {} bytes",
                                    r.body.size(), options_.max_body_bytes),
                        function);
        }
        if (auto fn = store_.GetFunction(parsed->ns, parsed->name); !fn) {
          if (fn.error().code() == core::ErrorCode::kNotFound) {
            return core::Error::NotFound(fmt::format("function {} is not deployed", function));
          }
          return fn.error();
        }
        json headers = json::object();
        for (const auto& [k, v] : r.headers) {
          if (k == "content-type" ||
              (k.rfind("x-", 0) == 0 && k != "x-callback-url" && k != "x-call-id"))
            headers[k] = v;
        }
        store::AsyncCall call{.call_id = call_id,
                              .namespace_name = parsed->ns,
                              .function = parsed->name,
                              .method = "POST",
                              .path = parsed->path,
                              .headers_json = DumpJson(headers),
                              .body = r.body,
                              .callback_url = callback};
        auto queued = store_.EnqueueAsync(call, options_.queue);
        if (!queued) {
          if (queued.error().code() == core::ErrorCode::kAlreadyExists) {
            return core::Error::AlreadyExists(fmt::format("call id {} already queued", call_id));
          }
          return queued.error();
        }
        const auto& limits = options_.queue;
        switch (*queued) {
          case store::EnqueueOutcome::kQueued:
            break;
          case store::EnqueueOutcome::kQueueFull:
            return Refuse(429, fmt::format("the async queue is full ({} calls)", limits.max_calls),
                          function);
          case store::EnqueueOutcome::kFunctionQueueFull:
            return Refuse(429,
                          fmt::format("the async queue of {} is full ({} calls)", function,
                                      limits.max_calls_per_function),
                          function);
          case store::EnqueueOutcome::kQueueBytesFull:
            return Refuse(429, fmt::format("the async queue is full ({} bytes)", limits.max_bytes),
                          function);
        }
        wake_.notify_one();
        gateway::ApiResponse response = JsonResponse(202, {{"callId", call.call_id},
                                                           {"function", parsed->name},
                                                           {"namespace", parsed->ns},
                                                           {"status", "queued"}});
        response.headers["X-Call-Id"] = call.call_id;
        return response;
      },
      /*needs_auth=*/false};
}

}  // namespace gantry::daemon
