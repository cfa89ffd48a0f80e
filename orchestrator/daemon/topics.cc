#include "daemon/topics.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <array>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/call_id.h"
#include "core/log.h"
#include "core/time_format.h"
#include "daemon/api_support.h"
#include "daemon/trigger_scheduler.h"
#include "spec/names.h"
#include "spec/sha256.h"

namespace gantry::daemon {
namespace {

using gateway::ApiRequest;
using gateway::ApiResponse;
using nlohmann::json;

core::Status CheckTopic(const std::string& topic) {
  if (auto bad = spec::CheckDns1123Label(topic); bad) {
    return core::Error::InvalidArgument(fmt::format("topic \"{}\": {}", topic, *bad));
  }
  return core::Ok();
}

std::string FormatMs(int64_t ms) {
  return core::FormatUtcMillis(core::FromUnixMillis(ms));
}

json DeadLetterJson(const store::DeadLetter& d) {
  json j = {{"id", d.id},
            {"namespace", d.namespace_name},
            {"function", d.function},
            {"trigger", d.trigger},
            {"topic", d.topic},
            {"eventId", d.event_id},
            {"attempts", d.attempts},
            {"status", d.status},
            {"error", d.error},
            {"enqueuedAt", FormatMs(d.enqueued_unix_ms)},
            {"failedAt", FormatMs(d.failed_unix_ms)}};
  if (ValidUtf8(d.body)) {
    j["body"] = d.body;
  } else {
    j["body"] = core::Base64Encode(d.body);
    j["bodyEncoding"] = "base64";
  }
  return j;
}

// A publish token: 32 bytes from the kernel's CSPRNG, hex, with a prefix that says what it is.
core::Result<std::string> NewToken() {
  std::array<unsigned char, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t r = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (r <= 0) return core::Error::Internal("getrandom failed");
    got += static_cast<std::size_t>(r);
  }
  std::string token = "gtp_";
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  return token;
}

}  // namespace

core::Status Topics::Load() {
  auto tokens = store_.ListTopicTokens();
  if (!tokens) return tokens.error();
  std::lock_guard lock(mu_);
  token_digests_ = std::move(*tokens);
  return core::Ok();
}

bool Topics::PublishTokenMatches(std::string_view authorization, const std::string& topic) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return false;
  const std::string digest = spec::Sha256::HexDigest(authorization.substr(kBearer.size()));
  std::lock_guard lock(mu_);
  auto it = token_digests_.find(topic);
  if (it == token_digests_.end() || it->second.size() != digest.size()) return false;
  // Digests of a secret: comparing them in constant time costs nothing.
  unsigned char diff = 0;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (digest[i] ^ it->second[i]));
  }
  return diff == 0;
}

core::Result<ApiResponse> Topics::Publish(const ApiRequest& r) {
  const std::string topic = PathParam(r, "topic");
  if (auto s = CheckTopic(topic); !s) return s.error();
  if (r.body.size() > options_.max_body_bytes) {
    return JsonResponse(413,
                        {{"error", fmt::format("event of {} bytes is over the limit of {} bytes",
                                               r.body.size(), options_.max_body_bytes)}});
  }
  auto subscriptions = TopicSubscriptions(store_);
  if (!subscriptions) return subscriptions.error();
  const std::string event_id = core::NewCallId();
  json headers = json::object();
  for (const auto& [k, v] : r.headers) {
    if (k == "content-type" || (k.starts_with("x-") && !k.starts_with("x-gantry-") &&
                                k != "x-call-id" && k != "x-callback-url")) {
      headers[k] = v;
    }
  }
  headers["X-Gantry-Trigger"] = "topic";
  headers["X-Gantry-Topic"] = topic;
  headers["X-Gantry-Event-Id"] = event_id;
  std::vector<store::AsyncCall> calls;
  if (auto it = subscriptions->find(topic); it != subscriptions->end()) {
    for (const auto& [ns, fn] : it->second) {
      calls.push_back(store::AsyncCall{.call_id = fmt::format("{}.{}", event_id, calls.size()),
                                       .namespace_name = ns,
                                       .function = fn,
                                       .headers_json = DumpJson(headers),
                                       .body = r.body,
                                       .trigger = "topic",
                                       .topic = topic,
                                       .event_id = event_id});
    }
  }
  if (!calls.empty()) {
    auto outcome = store_.EnqueueAsyncBatch(calls, options_.queue);
    if (!outcome) return outcome.error();
    if (*outcome != store::EnqueueOutcome::kQueued) {
      return JsonResponse(
          429, {{"error", "the async queue is full: event not accepted"}, {"topic", topic}});
    }
  }
  json deliveries = json::array();
  for (const auto& c : calls) {
    deliveries.push_back(
        {{"namespace", c.namespace_name}, {"function", c.function}, {"callId", c.call_id}});
  }
  core::Log(core::LogLevel::kInfo, "topic {}: event {} queued for {} subscriber(s)", topic,
            event_id, calls.size());
  return JsonResponse(
      202, {{"eventId", event_id}, {"topic", topic}, {"deliveries", std::move(deliveries)}});
}

std::vector<gateway::Route> Topics::Routes() {
  const std::string token = "/apis/gantry/v1/topics/{topic}/token";
  auto dead_letters = [this](const ApiRequest& r) -> core::Result<ApiResponse> {
    auto list = store_.ListDeadLetters(PathParam(r, "ns"));
    if (!list) return list.error();
    json items = json::array();
    for (const auto& d : *list) items.push_back(DeadLetterJson(d));
    return JsonResponse(200, {{"kind", "DeadLetterList"}, {"items", std::move(items)}});
  };
  gateway::Route publish{"POST", "/topics/{topic}",
                         [this](const ApiRequest& r) { return Publish(r); }};
  publish.also_authorized = [this](std::string_view authorization,
                                   const std::map<std::string, std::string>& params) {
    auto topic = params.find("topic");
    return topic != params.end() && PublishTokenMatches(authorization, topic->second);
  };
  return {
      std::move(publish),
      {"PUT", token,
       [this](const ApiRequest& r) -> core::Result<ApiResponse> {
         const std::string topic = PathParam(r, "topic");
         if (auto s = CheckTopic(topic); !s) return s.error();
         auto t = NewToken();
         if (!t) return t.error();
         const std::string digest = spec::Sha256::HexDigest(*t);
         if (auto s = store_.PutTopicToken(topic, digest); !s) return s.error();
         {
           std::lock_guard lock(mu_);
           token_digests_[topic] = digest;
         }
         return JsonResponse(201, {{"topic", topic}, {"token", *t}});
       }},
      {"DELETE", token,
       [this](const ApiRequest& r) -> core::Result<ApiResponse> {
         const std::string topic = PathParam(r, "topic");
         if (auto s = store_.DeleteTopicToken(topic); !s) return s.error();
         {
           std::lock_guard lock(mu_);
           token_digests_.erase(topic);
         }
         return JsonResponse(200, {{"topic", topic}, {"publishToken", false}});
       }},
      {"GET", "/apis/gantry/v1/topics",
       [this](const ApiRequest&) -> core::Result<ApiResponse> {
         auto subscriptions = TopicSubscriptions(store_);
         if (!subscriptions) return subscriptions.error();
         std::map<std::string, std::string> tokens;
         {
           std::lock_guard lock(mu_);
           tokens = token_digests_;
         }
         std::map<std::string, json> topics;
         for (const auto& [topic, subscribers] : *subscriptions) {
           json names = json::array();
           for (const auto& [ns, fn] : subscribers) names.push_back(ns + "/" + fn);
           topics[topic] = std::move(names);
         }
         for (const auto& [topic, digest] : tokens) topics.try_emplace(topic, json::array());
         json items = json::array();
         for (auto& [topic, names] : topics) {
           items.push_back({{"topic", topic},
                            {"subscribers", std::move(names)},
                            {"publishToken", tokens.contains(topic)}});
         }
         return JsonResponse(200, {{"kind", "TopicList"}, {"items", std::move(items)}});
       }},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/deadletters", dead_letters},
      {"GET", "/apis/gantry/v1/deadletters", dead_letters},
      {"POST", "/apis/gantry/v1/namespaces/{ns}/deadletters/{id}/replay",
       [this](const ApiRequest& r) -> core::Result<ApiResponse> {
         store::AsyncCall call{.call_id = core::NewCallId()};
         auto outcome =
             store_.ReplayDeadLetter(PathParam(r, "ns"), PathParam(r, "id"), call, options_.queue);
         if (!outcome) return outcome.error();
         if (*outcome != store::EnqueueOutcome::kQueued) {
           return JsonResponse(429, {{"error", "the async queue is full: not replayed"}});
         }
         return JsonResponse(202, {{"callId", call.call_id},
                                   {"function", call.function},
                                   {"namespace", call.namespace_name}});
       }},
  };
}

}  // namespace gantry::daemon
