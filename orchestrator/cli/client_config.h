#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "core/result.h"

namespace gantry::cli {

// Where gantryd is and how to authenticate. Plain value type.
struct ClientConfig {
  std::string server;
  std::string token;
  std::string token_file;
};

// What ResolveConfig reads besides the flags: the environment, and the token file gantryd
// writes when it runs on this machine. The real ones by default; tests give their own.
struct ConfigSources {
  std::function<std::string(const char* name)> env;  // "" for unset; empty: getenv
  std::string default_token_file = "/var/lib/gantry/token";

  std::string Env(const char* name) const;
};

// Adds --server, --token and --token-file to `app` (global options of every verb).
void AddClientFlags(CLI::App& app, ClientConfig& flags);

// Each value from the first place that has it: flag (--token-file before the token of the
// environment) > environment (GANTRY_URL, GANTRY_TOKEN) > the config file at ConfigPath()
// (written by `gantry login`) > default (http://127.0.0.1:8080, the token in
// default_token_file). Trailing slashes of the server are dropped. Never fails: a file that
// can't be read gives no value.
ClientConfig ResolveConfig(const ClientConfig& flags, const ConfigSources& sources = {});

// $GANTRY_CONFIG, else $XDG_CONFIG_HOME/gantry/config.yaml, else ~/.config/gantry/config.yaml.
std::string ConfigPath(const ConfigSources& sources = {});

// Reads "server:" and "token:" from the config file (YAML). A missing or unreadable file,
// or one that isn't a YAML mapping, gives empty values.
ClientConfig ReadConfigFile(const std::string& path);

// Writes the config file (YAML, mode 0600, its directory made, replaced atomically).
// kUnavailable naming the path when it can't.
core::Status WriteConfigFile(const std::string& path, const ClientConfig& config);

}  // namespace gantry::cli
