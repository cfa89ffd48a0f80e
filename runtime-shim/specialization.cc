#include "specialization.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::shim {

using nlohmann::json;

namespace {

bool HasNul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

std::string_view EntryName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

}  // namespace

std::optional<Specialization> ParseSpecialization(std::string_view body, std::string& error) {
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) {
    error = "the body is not a JSON object";
    return std::nullopt;
  }
  Specialization out;
  if (auto it = value.find("env"); it != value.end() && !it->is_null()) {
    if (!it->is_object()) {
      error = "env: not an object of strings";
      return std::nullopt;
    }
    for (const auto& [name, v] : it->items()) {
      if (name.empty() || name.find('=') != std::string::npos || HasNul(name)) {
        error = "env: bad variable name \"" + name + "\"";
        return std::nullopt;
      }
      if (!v.is_string() || HasNul(v.get_ref<const std::string&>())) {
        error = "env." + name + ": not a string";
        return std::nullopt;
      }
      out.env[name] = v.get<std::string>();
    }
  }
  if (auto it = value.find("command"); it != value.end() && !it->is_null()) {
    if (!it->is_array()) {
      error = "command: not an array of strings";
      return std::nullopt;
    }
    for (const auto& word : *it) {
      if (!word.is_string() || HasNul(word.get_ref<const std::string&>())) {
        error = "command: not an array of strings";
        return std::nullopt;
      }
      out.command.push_back(word.get<std::string>());
    }
  }
  if (auto it = value.find("timeout"); it != value.end() && !it->is_null()) {
    auto duration = it->is_string() ? ParseDuration(it->get<std::string>()) : std::nullopt;
    if (!duration || duration->count() == 0) {
      error = "timeout: not a duration (30s, 250ms, 2m)";
      return std::nullopt;
    }
    out.timeout = *duration;
  }
  if (auto it = value.find("maxInflight"); it != value.end() && !it->is_null()) {
    if (!it->is_number_unsigned() || it->get<std::size_t>() == 0) {
      error = "maxInflight: not a positive integer";
      return std::nullopt;
    }
    out.max_inflight = it->get<std::size_t>();
  }
  if (auto it = value.find("maxBody"); it != value.end() && !it->is_null()) {
    std::optional<std::size_t> size;
    if (it->is_number_unsigned()) size = it->get<std::size_t>();
    if (it->is_string()) size = ParseByteSize(it->get<std::string>());
    if (!size) {
      error = "maxBody: not a size in bytes";
      return std::nullopt;
    }
    out.max_body = size;
  }
  if (auto it = value.find("functionName"); it != value.end() && !it->is_null()) {
    if (!it->is_string()) {
      error = "functionName: not a string";
      return std::nullopt;
    }
    out.function_name = it->get<std::string>();
  }
  return out;
}

void ApplySpecialization(const Specialization& specialization, ShimConfig& config) {
  if (specialization.timeout) config.timeout = *specialization.timeout;
  if (specialization.max_inflight) {
    // As GANTRY_MAX_INFLIGHT without GANTRY_HANDLERS: one handler per call in flight.
    config.max_inflight = *specialization.max_inflight;
    config.handlers = config.max_inflight;
  }
  if (specialization.max_body) config.max_body = *specialization.max_body;
  if (specialization.function_name && !specialization.function_name->empty()) {
    config.function_name = *specialization.function_name;
  }
  if (!specialization.command.empty()) config.command = specialization.command;
}

std::vector<std::string> OverlayEnvironment(const std::vector<std::string>& base,
                                            const std::map<std::string, std::string>& env,
                                            const std::vector<std::string_view>& drop) {
  auto dropped = [&](std::string_view name) {
    return std::find(drop.begin(), drop.end(), name) != drop.end();
  };
  std::vector<std::string> out;
  for (const std::string& entry : base) {
    std::string_view name = EntryName(entry);
    if (dropped(name) || env.count(std::string(name)) != 0) continue;
    out.push_back(entry);
  }
  for (const auto& [name, value] : env) {
    if (!dropped(name)) out.push_back(name + "=" + value);
  }
  return out;
}

}  // namespace gantry::shim
