#pragma once

#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"

namespace gantry::cli {

// Where gantryd is and how to authenticate, resolved flag > environment (GANTRY_URL,
// GANTRY_TOKEN) > config file (written by `gantry login`) > default (http://127.0.0.1:8080
// with the token in /var/lib/gantry/token, readable when gantryd runs on this machine as
// this user).
struct ClientConfig {
  std::string server;
  std::string token;
  std::string token_file;
};

// Adds --server, --token and --token-file to `app` (global options of every verb).
void AddClientFlags(CLI::App& app, ClientConfig& flags);
ClientConfig ResolveConfig(const ClientConfig& flags);

// $GANTRY_CONFIG, else $XDG_CONFIG_HOME/gantry/config.yaml, else ~/.config/gantry/config.yaml.
std::string ConfigPath();
// Reads "server:" and "token:" from the config file (missing file: empty values).
ClientConfig ReadConfigFile(const std::string& path);
// Writes the config file (mode 0600, directory made); kUnavailable when it can't.
core::Status WriteConfigFile(const std::string& path, const ClientConfig& config);

// JSON as YAML (block style, strings quoted when needed), for -o yaml.
std::string ToYaml(const nlohmann::json& j);

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  // The "error" of a JSON error body, else the body itself, trimmed.
  std::string ErrorMessage() const;
};

// The REST client of gantryd (cpprestsdk). kUnavailable when gantryd can't be reached,
// naming the URL; any HTTP answer is a Reply, whatever its status. Not thread-safe.
class ApiClient {
 public:
  explicit ApiClient(ClientConfig config) : config_(std::move(config)) {}

  core::Result<Reply> Call(const std::string& method, const std::string& path, const std::string& body = "",
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           bool auth = true);
  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
};

}  // namespace gantry::cli
