#include "spec/duration.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>

namespace gantry::spec {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t millis;
};

// Longest names first so that "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 4> kUnits{{{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}}};
constexpr std::int64_t kMaxMillis = std::int64_t{10'000} * 3'600'000;

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

core::Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return core::Error::InvalidArgument(fmt::format(
        "invalid duration \"{}\": {} (use a number and a unit: 250ms, 30s, 5m, 1h)", text, why));
  };
  if (text.empty()) return invalid("empty");
  if (text.starts_with('-')) return invalid("must not be negative");
  std::int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    // number: digits with an optional fraction
    std::size_t i = 0;
    std::int64_t whole = 0;
    std::int64_t frac_num = 0;
    std::int64_t frac_den = 1;
    bool any_digit = false;
    while (i < rest.size() && IsDigit(rest[i])) {
      whole = whole * 10 + (rest[i] - '0');
      if (whole > kMaxMillis) return invalid("too long");
      any_digit = true;
      ++i;
    }
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      while (i < rest.size() && IsDigit(rest[i])) {
        if (frac_den < 1'000'000'000) {
          frac_num = frac_num * 10 + (rest[i] - '0');
          frac_den *= 10;
        } else if (rest[i] != '0') {
          return invalid("finer than 1ms");
        }
        any_digit = true;
        ++i;
      }
    }
    if (!any_digit) return invalid(i == 0 && !rest.empty() ? "expected a number" : "not a number");
    std::string_view after = rest.substr(i);
    // The unit is everything up to the next number: "30sec" has unit "sec", not "s".
    std::string_view name = after.substr(0, after.find_first_of("0123456789."));
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (name == u.name) unit = &u;
    }
    if (unit == nullptr) {
      if (name.empty()) return invalid("missing unit");
      return invalid(fmt::format("unknown unit \"{}\"", name));
    }
    if (whole > kMaxMillis / unit->millis) return invalid("too long");
    std::int64_t part = whole * unit->millis;
    std::int64_t frac_millis = frac_num * unit->millis;
    if (frac_millis % frac_den != 0) return invalid("finer than 1ms");
    part += frac_millis / frac_den;
    total += part;
    if (total > kMaxMillis) return invalid("too long");
    rest = after.substr(unit->name.size());
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  for (const Unit& u : {kUnits[1], kUnits[2], kUnits[3], kUnits[0]}) {
    if (ms >= u.millis) {
      out += fmt::format("{}{}", ms / u.millis, u.name);
      ms %= u.millis;
    }
  }
  return out;
}

}  // namespace gantry::spec
