#include "request_meta.h"

#include <map>

namespace gantry::shim {

std::pair<std::string, std::string> SplitTarget(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {std::string(target), ""};
  return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

std::string CanonicalHeaderName(std::string_view name) {
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    upper = c == '-';
  }
  return out;
}

std::vector<std::string> CgiEnvironment(const RequestMeta& meta, std::size_t content_length) {
  std::vector<std::string> env;
  env.push_back("Http_Method=" + meta.method);
  env.push_back("Http_Path=" + meta.path);
  env.push_back("Http_Query=" + meta.query);
  env.push_back("Http_ContentLength=" + std::to_string(content_length));
  // Repeated headers become one variable, as Go's http.Header joins them.
  std::map<std::string, std::string> joined;
  std::vector<std::string> order;
  for (const auto& [name, value] : meta.headers) {
    if (value.find('\0') != std::string::npos) continue;
    std::string key = CanonicalHeaderName(name);
    if (key == "Host") {
      env.push_back("Http_Host=" + value);
      continue;
    }
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    auto [it, inserted] = joined.emplace(key, value);
    if (inserted) {
      order.push_back(key);
    } else {
      it->second += ", " + value;
    }
  }
  for (const auto& key : order) env.push_back("Http_" + key + "=" + joined[key]);
  return env;
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = i + 1 < text.size() ? hex(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

}  // namespace gantry::shim
