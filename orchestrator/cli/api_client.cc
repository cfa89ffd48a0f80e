#include "cli/api_client.h"

// cpprest's U() macro collides with fmt; plain std::string works on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

namespace gantry::cli {

void AddClientFlags(CLI::App& app, ClientConfig& flags) {
  app.add_option("--server", flags.server, "gantryd's URL (env GANTRY_URL; default http://127.0.0.1:8080)");
  app.add_option("--token", flags.token, "management token (env GANTRY_TOKEN)");
  app.add_option("--token-file", flags.token_file, "read the token from this file (default /var/lib/gantry/token)");
}

ClientConfig ResolveConfig(const ClientConfig& flags) {
  ClientConfig c = flags;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v == nullptr ? "" : v;
  };
  if (c.server.empty()) c.server = env("GANTRY_URL");
  if (c.server.empty()) c.server = "http://127.0.0.1:8080";
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.token.empty()) c.token = env("GANTRY_TOKEN");
  if (c.token.empty()) {
    std::ifstream in(c.token_file.empty() ? "/var/lib/gantry/token" : c.token_file);
    std::getline(in, c.token);
  }
  return c;
}

std::string Reply::ErrorMessage() const {
  auto j = Json();
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  std::string b = body;
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b.empty() ? fmt::format("HTTP {}", status) : b;
}

core::Result<Reply> ApiClient::Call(const std::string& method, const std::string& path, const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers, bool auth) {
  using namespace web::http;
  try {
    client::http_client_config cfg;
    cfg.set_timeout(std::chrono::seconds(600));  // builds take a while
    client::http_client client(utility::conversions::to_string_t(config_.server), cfg);
    http_request request(utility::conversions::to_string_t(method));
    request.set_request_uri(utility::conversions::to_string_t(path));
    if (auth && !config_.token.empty()) request.headers().add("Authorization", "Bearer " + config_.token);
    std::string content_type = "application/octet-stream";
    for (const auto& [k, v] : headers) {
      if (k == "Content-Type") {
        content_type = v;
      } else {
        request.headers().add(k, v);
      }
    }
    if (!body.empty() || method == "PUT" || method == "POST") {
      request.set_body(std::vector<unsigned char>(body.begin(), body.end()));
      request.headers().set_content_type(content_type);
    }
    http_response response = client.request(request).get();
    Reply reply;
    reply.status = response.status_code();
    auto bytes = response.extract_vector().get();
    reply.body.assign(bytes.begin(), bytes.end());
    for (const auto& [k, v] : response.headers()) {
      std::string name = k;
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      reply.headers[name] = v;
    }
    return reply;
  } catch (const std::exception& e) {
    return core::Error::Unavailable(fmt::format("cannot reach gantryd at {}: {}", config_.server, e.what()));
  }
}

}  // namespace gantry::cli
