#include "cli/output.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <initializer_list>

#include "core/time_format.h"

namespace gantry::cli {
namespace {

bool Lower(std::string_view s, std::initializer_list<std::string_view> words) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view w : words) {
    if (lower == w) return true;
  }
  return false;
}

// Whether `s` may be written unquoted: it must read back as this string under any YAML
// reader (1.1's yes/no/on/off too), so only plain words and paths, never anything that
// starts like a number, an indicator or a null.
bool PlainScalar(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  if (Lower(s, {"true", "false", "null", "~", "yes", "no", "on", "off", "y", "n"})) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.') return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '/' || c == ' ')) {
      return false;
    }
  }
  return true;
}

void Emit(YAML::Emitter& yaml, const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      if (j.empty()) yaml << YAML::Flow;  // "{}"
      yaml << YAML::BeginMap;
      for (const auto& [key, value] : j.items()) {
        yaml << YAML::Key;
        if (!PlainScalar(key)) yaml << YAML::DoubleQuoted;
        yaml << key << YAML::Value;
        Emit(yaml, value);
      }
      yaml << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      if (j.empty()) yaml << YAML::Flow;  // "[]"
      yaml << YAML::BeginSeq;
      for (const auto& value : j) Emit(yaml, value);
      yaml << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& text = j.get_ref<const std::string&>();
      if (!PlainScalar(text)) yaml << YAML::DoubleQuoted;
      yaml << text;
      break;
    }
    case nlohmann::json::value_t::boolean:
      yaml << j.get<bool>();
      break;
    case nlohmann::json::value_t::null:
      yaml << YAML::Null;
      break;
    default:  // numbers (and discarded values): JSON's spelling is YAML's
      yaml << j.dump();
      break;
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& j) {
  YAML::Emitter yaml;
  yaml.SetNullFormat(YAML::LowerNull);
  Emit(yaml, j);
  return std::string(yaml.c_str()) + "\n";
}

bool PrintStructured(std::FILE* out, const nlohmann::json& j, std::string_view format) {
  if (format == "json") {
    std::fprintf(out, "%s\n", j.dump(2).c_str());
  } else if (format == "yaml") {
    std::fputs(ToYaml(j).c_str(), out);
  } else {
    return false;
  }
  return true;
}

std::string Table::Header() const {
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  return Row(headers);
}

std::string Table::Row(const std::vector<std::string>& cells) const {
  std::string line = indent_;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) line += ' ';
    std::string cell = i < cells.size() ? cells[i] : "";
    line += fmt::format("{:<{}}", cell, columns_[i].width);
  }
  return line + "\n";
}

std::string HumanAge(std::chrono::seconds age) {
  long long s = age.count() < 0 ? 0 : static_cast<long long>(age.count());
  const long long m = s / 60, h = s / 3600, d = s / 86400;
  if (s < 120) return fmt::format("{}s", s);
  if (m < 10) return s % 60 == 0 ? fmt::format("{}m", m) : fmt::format("{}m{}s", m, s % 60);
  if (h < 3) return fmt::format("{}m", m);
  if (h < 8) return m % 60 == 0 ? fmt::format("{}h", h) : fmt::format("{}h{}m", h, m % 60);
  if (h < 48) return fmt::format("{}h", h);
  if (d < 8) return h % 24 == 0 ? fmt::format("{}d", d) : fmt::format("{}d{}h", d, h % 24);
  if (d < 365 * 2) return fmt::format("{}d", d);
  if (d < 365 * 8) {
    return d % 365 == 0 ? fmt::format("{}y", d / 365) : fmt::format("{}y{}d", d / 365, d % 365);
  }
  return fmt::format("{}y", d / 365);
}

std::string AgeSince(std::string_view iso_time, std::chrono::system_clock::time_point now) {
  auto t = core::ParseUtc(iso_time);
  if (!t) return "<unknown>";
  return HumanAge(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

}  // namespace gantry::cli

namespace gantry::cli {

std::string FormatAge(std::chrono::system_clock::duration age) {
  using namespace std::chrono;
  int64_t s = duration_cast<seconds>(age).count();
  if (s < 0) s = 0;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  if (s < 365 * 86400) return std::to_string(s / 86400) + "d";
  return std::to_string(s / (365 * 86400)) + "y";
}

std::string AgeOf(const std::string& iso, std::chrono::system_clock::time_point now) {
  if (iso.empty()) return "";
  auto t = core::ParseUtc(iso);
  if (!t) return "";
  return FormatAge(now - *t);
}

}  // namespace gantry::cli
