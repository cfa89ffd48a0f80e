#include "daemon/async_dispatcher.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "daemon/resource_api.h"

namespace gantry::daemon {
namespace {

using nlohmann::json;

constexpr int64_t kMaxAttempts = 5;

std::string NewCallId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct HttpResult {
  long status = 0;  // 0: no answer
  std::string body;
  std::string error;
};

HttpResult Send(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                const std::string& body, long timeout_seconds) {
  HttpResult r;
  CURL* h = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& line : headers) list = curl_slist_append(list, line.c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return r;
}

}  // namespace

AsyncDispatcher::~AsyncDispatcher() { Stop(); }

core::Status AsyncDispatcher::Start(std::string gateway_url) {
  gateway_url_ = std::move(gateway_url);
  auto requeued = store_.RequeueRunningAsync();
  if (!requeued) return requeued.error();
  if (*requeued > 0) core::Log(core::LogLevel::kInfo, "async: {} call(s) interrupted by a stop queued again", *requeued);
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Work(); });
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
}

void AsyncDispatcher::Work() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto claimed = store_.ClaimAsync();
    if (claimed && claimed->has_value()) {
      Run(**claimed);
      continue;
    }
    if (!claimed) core::Log(core::LogLevel::kWarn, "async: {}", claimed.error().message());
    // Nothing due: wait for a new call, or poll for delayed retries.
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
  }
}

void AsyncDispatcher::Run(const store::AsyncCall& call) {
  std::vector<std::string> headers = {"X-Call-Id: " + call.call_id};
  json h = json::parse(call.headers_json, nullptr, false);
  if (h.is_object()) {
    for (const auto& [k, v] : h.items()) {
      if (v.is_string()) headers.push_back(k + ": " + v.get<std::string>());
    }
  }
  std::string url = fmt::format("{}/function/{}.{}{}", gateway_url_, call.function, call.namespace_name, call.path);
  int64_t started = NowMs();
  HttpResult r = Send(call.method, url, headers, call.body, 600);
  int64_t duration_us = (NowMs() - started) * 1000;
  bool retry = r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
  if (retry && call.attempts < kMaxAttempts) {
    int64_t delay = 1000LL << (call.attempts - 1);
    core::Log(core::LogLevel::kInfo, "async {} {}/{}: attempt {} got {}; again in {} ms", call.call_id,
              call.namespace_name, call.function, call.attempts, r.status == 0 ? r.error : std::to_string(r.status),
              delay);
    (void)store_.RetryAsync(call.call_id, delay);
    return;
  }
  (void)store_.RecordInvocation(call.call_id, call.namespace_name, call.function, started, duration_us,
                                static_cast<int>(r.status), /*async=*/true, r.error);
  if (!call.callback_url.empty()) {
    HttpResult cb = Send("POST", call.callback_url,
                         {"X-Call-Id: " + call.call_id, fmt::format("X-Function-Status: {}", r.status),
                          "X-Function-Name: " + call.function + "." + call.namespace_name},
                         r.body, 30);
    if (cb.status == 0 || cb.status >= 300) {
      core::Log(core::LogLevel::kWarn, "async {}: callback to {} failed: {}", call.call_id, call.callback_url,
                cb.status == 0 ? cb.error : std::to_string(cb.status));
    }
  }
  core::Log(core::LogLevel::kInfo, "async {} {}/{}: {} after {} attempt(s)", call.call_id, call.namespace_name,
            call.function, r.status == 0 ? r.error : std::to_string(r.status), call.attempts);
  (void)store_.FinishAsync(call.call_id);
}

gateway::Route AsyncDispatcher::Route() {
  return gateway::Route{
      "POST", "/async-function/{target...}",
      [this](const gateway::ApiRequest& r) -> core::Result<gateway::ApiResponse> {
        // {name}[.{ns}][/{path}]
        std::string target = r.params.at("target");
        std::string path;
        if (auto slash = target.find('/'); slash != std::string::npos) {
          path = target.substr(slash);
          target.resize(slash);
        }
        std::string ns = "default";
        if (auto dot = target.find('.'); dot != std::string::npos) {
          ns = target.substr(dot + 1);
          target.resize(dot);
        }
        if (target.empty()) return core::Error::InvalidArgument("no function named");
        if (!r.query.empty()) {
          std::string q;
          for (const auto& [k, v] : r.query) q += (q.empty() ? "?" : "&") + k + "=" + v;
          path += q;
        }
        json headers = json::object();
        for (const auto& [k, v] : r.headers) {
          if (k == "content-type" || (k.rfind("x-", 0) == 0 && k != "x-callback-url" && k != "x-call-id")) headers[k] = v;
        }
        auto cb = r.headers.find("x-callback-url");
        auto id = r.headers.find("x-call-id");
        store::AsyncCall call{.call_id = id != r.headers.end() && !id->second.empty() ? id->second : NewCallId(),
                              .namespace_name = ns,
                              .function = target,
                              .method = "POST",
                              .path = path,
                              .headers_json = headers.dump(),
                              .body = r.body,
                              .callback_url = cb == r.headers.end() ? "" : cb->second};
        if (auto s = store_.EnqueueAsync(call); !s) return s.error();
        wake_.notify_one();
        gateway::ApiResponse response = JsonResponse(202, {{"callId", call.call_id}, {"function", target},
                                                           {"namespace", ns}, {"status", "queued"}});
        response.headers["X-Call-Id"] = call.call_id;
        return response;
      },
      /*needs_auth=*/false};
}

}  // namespace gantry::daemon
