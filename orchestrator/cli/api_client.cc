#include "cli/api_client.h"

// cpprest's U() macro collides with fmt; plain std::string works on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gantry::cli {

void AddClientFlags(CLI::App& app, ClientConfig& flags) {
  app.add_option("--server", flags.server, "gantryd's URL (env GANTRY_URL; default http://127.0.0.1:8080)");
  app.add_option("--token", flags.token, "management token (env GANTRY_TOKEN)");
  app.add_option("--token-file", flags.token_file, "read the token from this file (default /var/lib/gantry/token)");
}

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

std::string ConfigPath() {
  if (std::string p = Env("GANTRY_CONFIG"); !p.empty()) return p;
  if (std::string x = Env("XDG_CONFIG_HOME"); !x.empty()) return x + "/gantry/config.yaml";
  return Env("HOME") + "/.config/gantry/config.yaml";
}

ClientConfig ReadConfigFile(const std::string& path) {
  ClientConfig c;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos || line[0] == '#') continue;
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.pop_back();
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (key == "server") c.server = value;
    if (key == "token") c.token = value;
  }
  return c;
}

core::Status WriteConfigFile(const std::string& path, const ClientConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return core::Error::Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  std::string text = fmt::format("# written by gantry login\nserver: \"{}\"\ntoken: \"{}\"\n", config.server, config.token);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return core::Error::Unavailable(fmt::format("cannot write {}", path));
  }
  return core::Ok();
}

ClientConfig ResolveConfig(const ClientConfig& flags) {
  ClientConfig c = flags;
  ClientConfig file = ReadConfigFile(ConfigPath());
  if (c.server.empty()) c.server = Env("GANTRY_URL");
  if (c.server.empty()) c.server = file.server;
  if (c.server.empty()) c.server = "http://127.0.0.1:8080";
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.token.empty() && !c.token_file.empty()) {
    std::ifstream in(c.token_file);
    std::getline(in, c.token);
  }
  if (c.token.empty()) c.token = Env("GANTRY_TOKEN");
  if (c.token.empty()) c.token = file.token;
  if (c.token.empty()) {
    std::ifstream in("/var/lib/gantry/token");
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

namespace gantry::cli {
namespace {

bool PlainScalar(const std::string& s) {
  if (s.empty() || s == "true" || s == "false" || s == "null" || s == "~") return false;
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.') return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ' ')) {
      return false;
    }
  }
  return s.front() != ' ' && s.back() != ' ';
}

void Emit(const nlohmann::json& j, int indent, std::string& out) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  auto scalar = [](const nlohmann::json& v) {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      return PlainScalar(s) ? s : v.dump();
    }
    return v.dump();
  };
  auto empty_container = [](const nlohmann::json& v) { return (v.is_object() || v.is_array()) && v.empty(); };
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      std::string key = PlainScalar(k) ? k : nlohmann::json(k).dump();
      if ((v.is_object() || v.is_array()) && !v.empty()) {
        out += pad + key + ":\n";
        Emit(v, indent + 2, out);
      } else {
        out += pad + key + ": " + (empty_container(v) ? (v.is_object() ? "{}" : "[]") : scalar(v)) + "\n";
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if ((v.is_object() || v.is_array()) && !v.empty()) {
        std::string nested;
        Emit(v, indent + 2, nested);
        out += pad + "- " + nested.substr(static_cast<std::size_t>(indent) + 2);
      } else {
        out += pad + "- " + (empty_container(v) ? (v.is_object() ? "{}" : "[]") : scalar(v)) + "\n";
      }
    }
  } else {
    out += pad + scalar(j) + "\n";
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& j) {
  std::string out;
  Emit(j, 0, out);
  return out;
}

}  // namespace gantry::cli
