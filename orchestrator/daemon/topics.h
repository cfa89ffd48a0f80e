#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "gateway/backend.h"
#include "store/store.h"

namespace gantry::daemon {

struct TopicOptions {
  store::AsyncQueueLimits queue;         // an event that would pass them is refused (429)
  std::size_t max_body_bytes = 6 << 20;  // of one event (413 beyond): the async limit
};

// Topics, the event router: functions subscribe with {topic: NAME} in spec.triggers, and an
// event published to a topic becomes one durable async call per subscribed function
// (trigger "topic", queued in one transaction: all or none), run and retried by the
// AsyncDispatcher; a delivery whose attempts all fail is a dead letter, to be replayed.
//
//   POST   /topics/{topic}             the event (any body, its Content-Type kept): 202
//          {"eventId", "topic", "deliveries": [{"namespace", "function", "callId"}]}. Takes
//          the management token or the topic's publish token (Bearer). 400 for a bad topic
//          name, 413 over max_body_bytes, 429 when the queue is full.
//   PUT    /apis/gantry/v1/topics/{topic}/token   a new publish token (replacing the old):
//          201 {"topic", "token"}; only its SHA-256 is kept, so it is shown this once.
//   DELETE /apis/gantry/v1/topics/{topic}/token   revokes it (404 when there is none).
//   GET    /apis/gantry/v1/topics      {"kind": "TopicList", "items": [{"topic",
//          "subscribers": ["ns/fn"], "publishToken": bool}]}
//   GET    /apis/gantry/v1/namespaces/{ns}/deadletters, /apis/gantry/v1/deadletters
//          {"kind": "DeadLetterList", "items": [...]} newest first
//   POST   /apis/gantry/v1/namespaces/{ns}/deadletters/{id}/replay   queued again as a new
//          call (202 {"callId"}) and removed from the list; 404 for an unknown id.
// Thread-safe.
class Topics {
 public:
  Topics(store::Store& store, TopicOptions options) : store_(store), options_(options) {}

  // Reads the publish tokens' digests from the store (kept in memory: the check runs on an
  // io thread).
  core::Status Load();
  std::vector<gateway::Route> Routes();

  // Whether `authorization` ("Bearer <token>") is `topic`'s publish token.
  bool PublishTokenMatches(std::string_view authorization, const std::string& topic) const;

 private:
  core::Result<gateway::ApiResponse> Publish(const gateway::ApiRequest& r);

  store::Store& store_;
  const TopicOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> token_digests_;  // guarded by mu_
};

}  // namespace gantry::daemon
