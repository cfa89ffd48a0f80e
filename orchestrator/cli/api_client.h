#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/client_config.h"
#include "core/result.h"
#include "http/http.h"

namespace gantry::cli {

// One answer of gantryd, whatever its status.
struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  // The "error" of a JSON error body, else the body itself, trimmed.
  std::string ErrorMessage() const;
};

// The REST client of gantryd: requests to config.server (http or https) through an
// http::Sender (http::Send; a fake in tests), with the token as a bearer token. It is
// thread-safe when `send` is (http::Send is): a client holds no other state.
class ApiClient {
 public:
  explicit ApiClient(ClientConfig config, http::Sender send = http::Send,
                     http::Streamer stream = http::Stream)
      : config_(std::move(config)), send_(std::move(send)), stream_(std::move(stream)) {}

  // Sends `method path` with `body` (Content-Type from `headers`, else
  // application/octet-stream) and the token when `auth`. Any HTTP answer is a Reply;
  // kUnavailable naming the URL when there is none (gantryd can't be reached, the
  // exchange timed out or the answer was over 1 GiB).
  core::Result<Reply> Call(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           bool auth = true);
  // GET `path` with the body of a 2xx answer handed to `on_chunk` as it arrives, with no
  // time limit (logs -f: until gantryd or on_chunk ends it). The Reply has the status and,
  // for a non-2xx answer, its body. Errors as Call's.
  core::Result<Reply> Stream(const std::string& path, const http::ChunkFn& on_chunk);
  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
  http::Sender send_;
  http::Streamer stream_;
};

}  // namespace gantry::cli
