#include "cli/api_client.h"

#include <fmt/format.h>

#include <chrono>

namespace gantry::cli {

std::string Reply::ErrorMessage() const {
  auto j = Json();
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  std::string b = body;
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b.empty() ? fmt::format("HTTP {}", status) : b;
}

core::Result<Reply> ApiClient::Stream(const std::string& path,
                                      std::function<bool(std::string_view chunk)> on_chunk) {
  // No time limit: logs -f lasts until gantryd or on_chunk ends it.
  return Exchange("GET", path, "", {}, /*auth=*/true, std::move(on_chunk), std::chrono::seconds(0));
}

core::Result<Reply> ApiClient::Call(const std::string& method, const std::string& path,
                                    const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    bool auth) {
  return Exchange(method, path, body, headers, auth, nullptr);
}

core::Result<Reply> ApiClient::CallStreaming(
    const std::string& method, const std::string& path, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::function<bool(std::string_view chunk)> on_body) {
  return Exchange(method, path, body, headers, /*auth=*/true, std::move(on_body));
}

core::Result<Reply> ApiClient::Exchange(
    const std::string& method, const std::string& path, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers, bool auth,
    std::function<bool(std::string_view)> on_body, std::chrono::seconds timeout) {
  http::Request request{.method = method,
                        .url = config_.server + path,
                        .body = body,
                        .timeout = timeout,  // 600 s by default: builds take a while
                        .max_response_bytes = std::size_t{1} << 30,
                        .allow_https = true,
                        .on_body = nullptr};
  // A receiver that stops the answer (logs -f into a closed pipe) ends it, not an error.
  bool stopped = false;
  if (on_body) {
    request.on_body = [&stopped, on_body = std::move(on_body)](std::string_view chunk) {
      stopped = !on_body(chunk);
      return !stopped;
    };
  }
  if (auth && !config_.token.empty())
    request.headers.push_back("Authorization: Bearer " + config_.token);
  std::string content_type = "application/octet-stream";
  for (const auto& [name, value] : headers) {
    if (name == "Content-Type") {
      content_type = value;
    } else {
      request.headers.push_back(name + ": " + value);
    }
  }
  if (!body.empty() || method == "PUT" || method == "POST") {
    request.headers.push_back("Content-Type: " + content_type);
  }
  http::Response response = send_(request);
  if (response.status == 0 || response.response_too_big || (!response.error.empty() && !stopped)) {
    return core::Error::Unavailable(
        fmt::format("cannot reach gantryd at {}: {}", config_.server, response.error));
  }
  return Reply{.status = static_cast<int>(response.status),
               .body = std::move(response.body),
               .headers = std::move(response.headers)};
}

}  // namespace gantry::cli
