#include "config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace gantry::shim {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<unsigned short> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<unsigned short>(value);
}

std::optional<std::size_t> ParseCount(std::string_view text) {
  std::size_t value = 0;
  text = Trim(text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Mode> ParseMode(std::string_view text) {
  if (text == "exec") return Mode::kExec;
  if (text == "http") return Mode::kHttp;
  if (text == "runtime-api" || text == "runtime_api") return Mode::kRuntimeApi;
  return std::nullopt;
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kExec:
      return "exec";
    case Mode::kHttp:
      return "http";
    case Mode::kRuntimeApi:
      return "runtime-api";
  }
  return "?";
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  double scale = 1000.0;  // bare numbers are seconds
  if (text.ends_with("ms")) {
    scale = 1.0;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60000.0;
    text.remove_suffix(1);
  } else if (text.ends_with("h")) {
    scale = 3600000.0;
    text.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      !std::isfinite(value) || value * scale > 1e15) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(value * scale)));
}

std::optional<std::size_t> ParseByteSize(std::string_view text) {
  text = Trim(text);
  std::size_t scale = 1;
  if (text.ends_with("i")) text.remove_suffix(1);
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = std::size_t{1} << 10;
        break;
      case 'm':
      case 'M':
        scale = std::size_t{1} << 20;
        break;
      case 'g':
      case 'G':
        scale = std::size_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  auto value = ParseCount(text);
  if (!value || *value > std::numeric_limits<std::size_t>::max() / scale) return std::nullopt;
  return *value * scale;
}

std::optional<ListenAddress> ParseListenAddress(std::string_view text) {
  text = Trim(text);
  ListenAddress address;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/") || text.starts_with("./")) {
    address.is_unix = true;
    address.path = std::string(text);
    return address;
  }
  if (text.starts_with("tcp:")) text.remove_prefix(4);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port = ParsePort(text.substr(colon + 1));
  if (!port) return std::nullopt;
  address.is_unix = false;
  address.host = colon == 0 ? "0.0.0.0" : std::string(text.substr(0, colon));
  address.port = *port;
  return address;
}

std::optional<std::vector<std::string>> SplitCommandLine(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return std::nullopt;
  if (in_word) words.push_back(std::move(word));
  return words;
}

namespace {

// One setting, applied from either its environment variable or its flag.
bool Apply(ShimConfig& config, std::string_view key, const std::string& value, std::string& error) {
  auto fail = [&](std::string_view what) {
    error = std::string(key) + ": " + std::string(what) + " \"" + value + "\"";
    return false;
  };
  if (key == "mode") {
    auto mode = ParseMode(value);
    if (!mode) return fail("unknown mode (exec, http, runtime-api)");
    config.mode = *mode;
  } else if (key == "listen") {
    auto address = ParseListenAddress(value);
    if (!address) return fail("not unix:/path or tcp:host:port");
    config.listen = *address;
  } else if (key == "command") {
    auto words = SplitCommandLine(value);
    if (!words) return fail("unterminated quote in");
    config.command = *words;
  } else if (key == "upstream") {
    auto address = ParseListenAddress(value);
    if (!address || address->is_unix) return fail("not host:port");
    config.upstream_host = address->host == "0.0.0.0" ? "127.0.0.1" : address->host;
    config.upstream_port = address->port;
  } else if (key == "timeout" || key == "grace" || key == "ready-timeout") {
    auto duration = ParseDuration(value);
    if (!duration || (key != "grace" && duration->count() == 0)) {
      return fail("not a duration (30s, 250ms, 2m)");
    }
    (key == "timeout" ? config.timeout
     : key == "grace" ? config.grace
                      : config.ready_timeout) = *duration;
  } else if (key == "max-inflight") {
    auto count = ParseCount(value);
    if (!count || *count == 0) return fail("not a positive number");
    config.max_inflight = *count;
  } else if (key == "handlers") {
    auto count = ParseCount(value);
    if (!count || *count == 0) return fail("not a positive number");
    config.handlers = *count;
  } else if (key == "max-body") {
    auto size = ParseByteSize(value);
    if (!size) return fail("not a size (1048576, 512k, 6M)");
    config.max_body = *size;
  } else if (key == "content-type") {
    config.content_type = value;
  } else if (key == "function-name") {
    config.function_name = value;
  } else if (key == "stem") {
    if (value == "1" || value == "true" || value == "yes") {
      config.stem = true;
    } else if (value == "0" || value == "false" || value == "no") {
      config.stem = false;
    } else {
      return fail("not 1 or 0");
    }
  } else {
    error = "unknown flag --" + std::string(key);
    return false;
  }
  return true;
}

constexpr std::pair<const char*, const char*> kEnvKeys[] = {
    {"GANTRY_MODE", "mode"},
    {"GANTRY_LISTEN", "listen"},
    {"fprocess", "command"},  // OpenFaaS watchdog; GANTRY_COMMAND wins
    {"GANTRY_COMMAND", "command"},
    {"GANTRY_UPSTREAM", "upstream"},
    {"GANTRY_TIMEOUT", "timeout"},
    {"GANTRY_GRACE", "grace"},
    {"GANTRY_READY_TIMEOUT", "ready-timeout"},
    {"GANTRY_MAX_INFLIGHT", "max-inflight"},
    {"GANTRY_HANDLERS", "handlers"},
    {"GANTRY_MAX_BODY", "max-body"},
    {"GANTRY_CONTENT_TYPE", "content-type"},
    {"AWS_LAMBDA_FUNCTION_NAME", "function-name"},  // GANTRY_FUNCTION_NAME wins
    {"GANTRY_FUNCTION_NAME", "function-name"},
    {"GANTRY_STEM", "stem"},
};

}  // namespace

ConfigResult ParseConfig(const std::map<std::string, std::string>& env,
                         const std::vector<std::string>& args) {
  ShimConfig config;
  std::string error;
  bool handlers_given = false;
  bool inflight_given = false;
  auto note = [&](std::string_view key) {
    handlers_given |= key == "handlers";
    inflight_given |= key == "max-inflight";
  };
  for (const auto& [env_key, key] : kEnvKeys) {
    auto it = env.find(env_key);
    if (it == env.end() || it->second.empty()) continue;
    note(key);
    if (!Apply(config, key, it->second, error)) {
      return {std::nullopt, std::string(env_key) + " (" + error + ")"};
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      config.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      config.show_help = true;
      continue;
    }
    if (arg == "--version") {
      config.show_version = true;
      continue;
    }
    if (arg == "--stem") {
      config.stem = true;
      continue;
    }
    if (!arg.starts_with("--")) return {std::nullopt, "unexpected argument \"" + arg + "\""};
    std::string key = arg.substr(2);
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return {std::nullopt, "flag --" + key + " needs a value"};
    }
    if (!Apply(config, key, value, error)) return {std::nullopt, error};
    note(key);
  }
  if (!handlers_given) config.handlers = inflight_given ? config.max_inflight : 1;
  config.handlers = std::min(config.handlers, config.max_inflight);
  if (config.show_help || config.show_version) return {config, ""};
  if (config.stem && config.mode == Mode::kHttp) {
    return {std::nullopt, "stem: http mode has no stem cells (exec or runtime-api only)"};
  }
  // An exec stem is told its command when it is specialised.
  if (config.command.empty() && !(config.stem && config.mode == Mode::kExec)) {
    return {std::nullopt, "no function command: set GANTRY_COMMAND (or fprocess) or pass -- cmd"};
  }
  if (config.listen.is_unix && config.listen.path.size() >= 108) {
    return {std::nullopt, "listen: unix socket path longer than 107 bytes"};
  }
  return {config, ""};
}

}  // namespace gantry::shim
