#include "cli/client_config.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gantry::cli {
namespace {

std::string FirstLine(const std::string& path) {
  std::string line;
  std::ifstream in(path);
  std::getline(in, line);
  return line;
}

std::string ScalarOrEmpty(const YAML::Node& map, const char* key) {
  YAML::Node value = map[key];
  return value && value.IsScalar() ? value.as<std::string>() : "";
}

}  // namespace

std::string ConfigSources::Env(const char* name) const {
  if (env) return env(name);
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

void AddClientFlags(CLI::App& app, ClientConfig& flags) {
  app.add_option("--server", flags.server,
                 "gantryd's URL (env GANTRY_URL; default http://127.0.0.1:8080)");
  app.add_option("--token", flags.token, "management token (env GANTRY_TOKEN)");
  app.add_option("--token-file", flags.token_file,
                 "read the token from this file (default /var/lib/gantry/token)");
}

std::string ConfigPath(const ConfigSources& sources) {
  if (std::string p = sources.Env("GANTRY_CONFIG"); !p.empty()) return p;
  if (std::string x = sources.Env("XDG_CONFIG_HOME"); !x.empty()) return x + "/gantry/config.yaml";
  return sources.Env("HOME") + "/.config/gantry/config.yaml";
}

ClientConfig ReadConfigFile(const std::string& path) {
  ClientConfig c;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) return c;
    c.server = ScalarOrEmpty(root, "server");
    c.token = ScalarOrEmpty(root, "token");
  } catch (const YAML::Exception&) {
    // Missing or not YAML: no values, as documented.
  }
  return c;
}

core::Status WriteConfigFile(const std::string& path, const ClientConfig& config) {
  YAML::Emitter yaml;
  yaml << YAML::BeginMap;
  yaml << YAML::Key << "server" << YAML::Value << YAML::DoubleQuoted << config.server;
  yaml << YAML::Key << "token" << YAML::Value << YAML::DoubleQuoted << config.token;
  yaml << YAML::EndMap;
  if (!yaml.good())
    return core::Error::Unavailable(fmt::format("cannot write {}: {}", path, yaml.GetLastError()));
  std::string text = "# written by gantry login\n" + std::string(yaml.c_str()) + "\n";

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Error::Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fchmod(fd, 0600) == 0 && ok;  // an older file of another mode was truncated, not made
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return core::Error::Unavailable(fmt::format("cannot write {}", path));
  }
  return core::Ok();
}

ClientConfig ResolveConfig(const ClientConfig& flags, const ConfigSources& sources) {
  ClientConfig c = flags;
  ClientConfig file = ReadConfigFile(ConfigPath(sources));
  if (c.server.empty()) c.server = sources.Env("GANTRY_URL");
  if (c.server.empty()) c.server = file.server;
  if (c.server.empty()) c.server = "http://127.0.0.1:8080";
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.token.empty() && !c.token_file.empty()) c.token = FirstLine(c.token_file);
  if (c.token.empty()) c.token = sources.Env("GANTRY_TOKEN");
  if (c.token.empty()) c.token = file.token;
  if (c.token.empty()) c.token = FirstLine(sources.default_token_file);
  return c;
}

}  // namespace gantry::cli
