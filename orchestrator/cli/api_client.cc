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

core::Result<Reply> ApiClient::Stream(const std::string& path, const http::ChunkFn& on_chunk) {
  http::Request request{.method = "GET",
                        .url = config_.server + path,
                        .timeout = std::chrono::seconds(0),  // as long as it lasts
                        .allow_https = true};
  if (!config_.token.empty()) request.headers.push_back("Authorization: Bearer " + config_.token);
  http::Response response = stream_(request, on_chunk);
  if (response.status == 0) {
    return core::Error::Unavailable(
        fmt::format("cannot reach gantryd at {}: {}", config_.server, response.error));
  }
  return Reply{.status = static_cast<int>(response.status),
               .body = std::move(response.body),
               .headers = std::move(response.headers)};
}

core::Result<Reply> ApiClient::Call(const std::string& method, const std::string& path,
                                    const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    bool auth) {
  http::Request request{.method = method,
                        .url = config_.server + path,
                        .body = body,
                        .timeout = std::chrono::seconds(600),  // builds take a while
                        .max_response_bytes = std::size_t{1} << 30,
                        .allow_https = true};
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
  if (response.status == 0 || response.response_too_big) {
    return core::Error::Unavailable(
        fmt::format("cannot reach gantryd at {}: {}", config_.server, response.error));
  }
  return Reply{.status = static_cast<int>(response.status),
               .body = std::move(response.body),
               .headers = std::move(response.headers)};
}

}  // namespace gantry::cli
