#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
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
  explicit ApiClient(ClientConfig config, http::Sender send = http::Send)
      : config_(std::move(config)), send_(std::move(send)) {}

  // Sends `method path` with `body` (Content-Type from `headers`, else
  // application/octet-stream) and the token when `auth`. Any HTTP answer is a Reply;
  // kUnavailable naming the URL when there is none (gantryd can't be reached, the
  // exchange timed out or the answer was over 1 GiB).
  core::Result<Reply> Call(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           bool auth = true);
  // As Call, but the body of a 2xx answer is handed to `on_body` as it arrives (the Reply's
  // body is then empty; other answers' bodies are in it as usual). `on_body` returning
  // false ends the exchange: kUnavailable.
  core::Result<Reply> CallStreaming(const std::string& method, const std::string& path,
                                    const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::function<bool(std::string_view chunk)> on_body);
  // GET `path` with the body of a 2xx answer handed to `on_chunk` as it arrives, with no
  // time limit (logs -f: until gantryd or on_chunk ends it). The Reply has the status and,
  // for a non-2xx answer, its body. Errors as Call's.
  core::Result<Reply> Stream(const std::string& path,
                             std::function<bool(std::string_view chunk)> on_chunk);
  const ClientConfig& config() const { return config_; }

 private:
  core::Result<Reply> Exchange(const std::string& method, const std::string& path,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               bool auth, std::function<bool(std::string_view)> on_body,
                               std::chrono::seconds timeout = std::chrono::seconds(600));

  ClientConfig config_;
  http::Sender send_;
};

}  // namespace gantry::cli
