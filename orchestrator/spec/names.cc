#include "spec/names.h"

#include <fmt/format.h>

#include <cctype>

namespace gantry::spec {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// [A-Za-z0-9._-]{1,63} with alphanumeric ends (label names and values).
std::optional<std::string> CheckQualifiedPart(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 63) return fmt::format("must be at most 63 characters (is {})", text.size());
  for (char c : text) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') {
      return "may contain only letters, digits, '.', '_' and '-'";
    }
  }
  if (!IsAlnum(text.front()) || !IsAlnum(text.back())) {
    return "must start and end with a letter or digit";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CheckDns1123Label(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 63) return fmt::format("must be at most 63 characters (is {})", text.size());
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') return "must be lower case";
    if (!IsLowerAlnum(c) && c != '-') {
      return "may contain only lower-case letters, digits and '-'";
    }
  }
  if (text.front() == '-' || text.back() == '-') return "must start and end with a letter or digit";
  return std::nullopt;
}

std::optional<std::string> CheckEnvName(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 256) return "must be at most 256 characters";
  if (IsDigit(text.front())) return "must not start with a digit";
  for (char c : text) {
    if (!IsAlnum(c) && c != '_') return "may contain only letters, digits and '_'";
  }
  return std::nullopt;
}

std::optional<std::string> CheckLabelKey(std::string_view text) {
  auto slash = text.rfind('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = text.substr(0, slash);
    if (prefix.empty() || prefix.size() > 253) return "prefix must be 1-253 characters";
    for (char c : prefix) {
      if (!IsLowerAlnum(c) && c != '-' && c != '.') {
        return "prefix may contain only lower-case letters, digits, '-' and '.'";
      }
    }
    text = text.substr(slash + 1);
  }
  return CheckQualifiedPart(text);
}

std::optional<std::string> CheckLabelValue(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return CheckQualifiedPart(text);
}

std::optional<std::string> CheckImageReference(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 255) return "must be at most 255 characters";
  std::string_view rest = text;
  auto at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!digest.starts_with("sha256:") || digest.size() != 7 + 64) {
      return "digest must be sha256: followed by 64 hex digits";
    }
    for (char c : digest.substr(7)) {
      if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) {
        return "digest must be sha256: followed by 64 hex digits";
      }
    }
  }
  // A tag follows the last ':' that comes after the last '/'.
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (tag.empty() || tag.size() > 128) return "tag must be 1-128 characters";
    for (char c : tag) {
      if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') {
        return "tag may contain only letters, digits, '_', '.' and '-'";
      }
    }
  }
  if (rest.empty()) return "missing repository name";
  // The first component is a registry host when it has a '.' or ':' or is "localhost".
  std::string_view path = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view host = rest.substr(0, first_slash);
    if (host.find_first_of(".:") != std::string_view::npos || host == "localhost") {
      path = rest.substr(first_slash + 1);
    }
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view component = path.substr(start, end - start);
    if (component.empty()) return "empty path component";
    for (char c : component) {
      if (c >= 'A' && c <= 'Z') return "repository name must be lower case";
      if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') {
        return "repository name may contain only lower-case letters, digits, '.', '_' and '-'";
      }
    }
    if (!IsLowerAlnum(component.front()) || !IsLowerAlnum(component.back())) {
      return "path components must start and end with a letter or digit";
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> CheckTimezoneName(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 64) return "must be at most 64 characters";
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    if (part.empty()) return "has an empty part between slashes";
    if (!std::isalpha(static_cast<unsigned char>(part.front()))) {
      return fmt::format("part \"{}\" must start with a letter (e.g. Europe/Berlin)", part);
    }
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '+' && c != '-') {
        return fmt::format("'{}' is not allowed (e.g. Europe/Berlin, UTC)", c);
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> CheckHeaderName(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 256) return "must be at most 256 characters";
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        kTokenPunctuation.find(c) == std::string_view::npos) {
      return fmt::format("'{}' is not allowed in a header name", c);
    }
  }
  return std::nullopt;
}

}  // namespace gantry::spec
