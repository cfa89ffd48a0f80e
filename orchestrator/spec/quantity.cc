#include "spec/quantity.h"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <utility>

namespace gantry::spec {
namespace {

constexpr std::int64_t kMaxValue = std::numeric_limits<std::int64_t>::max();

// A non-negative decimal "123" or "1.25" split into its integer and fractional digits.
struct Decimal {
  std::string_view whole;
  std::string_view fraction;
};

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool SplitDecimal(std::string_view text, Decimal* out) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    if (!IsDigits(text)) return false;
    *out = {text, {}};
    return true;
  }
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = text.substr(dot + 1);
  // "0.5" and ".5" and "5." are all fine; "." alone is not.
  if (whole.empty() && fraction.empty()) return false;
  if (!whole.empty() && !IsDigits(whole)) return false;
  if (!fraction.empty() && !IsDigits(fraction)) return false;
  *out = {whole, fraction};
  return true;
}

// Computes decimal * multiplier exactly; false when it is not a whole number or overflows.
bool ScaleExact(const Decimal& d, std::int64_t multiplier, std::int64_t* out) {
  // value = digits / 10^k; 128-bit arithmetic keeps digits * multiplier exact.
  __int128 digits = 0;
  __int128 divisor = 1;
  constexpr __int128 kLimit = kMaxValue;
  std::string_view fraction = d.fraction;
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  for (char c : d.whole) {
    digits = digits * 10 + (c - '0');
    if (digits > kLimit) return false;
  }
  for (char c : fraction) {
    digits = digits * 10 + (c - '0');
    divisor *= 10;
    if (digits > kLimit || divisor > kLimit) return false;
  }
  __int128 product = digits * multiplier;
  if (product % divisor != 0) return false;
  product /= divisor;
  if (product > kLimit) return false;
  *out = static_cast<std::int64_t>(product);
  return true;
}

struct Suffix {
  std::string_view name;
  std::int64_t multiplier;
};

constexpr std::int64_t kKi = 1024;
constexpr std::array<Suffix, 8> kMemorySuffixes{{
    {"Ki", kKi},
    {"Mi", kKi* kKi},
    {"Gi", kKi* kKi* kKi},
    {"Ti", kKi* kKi* kKi* kKi},
    {"k", 1000},
    {"M", 1000 * 1000},
    {"G", 1000 * 1000 * 1000},
    {"T", std::int64_t{1000} * 1000 * 1000 * 1000},
}};

}  // namespace

core::Result<std::int64_t> ParseMemory(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return core::Error::InvalidArgument(fmt::format(
        "invalid memory quantity \"{}\": {} (use bytes or a suffix: 128Mi, 1Gi, 500M)", text, why));
  };
  if (text.empty()) return invalid("empty");
  std::string_view number = text;
  std::int64_t multiplier = 1;
  for (const Suffix& s : kMemorySuffixes) {
    if (text.size() > s.name.size() && text.ends_with(s.name)) {
      number = text.substr(0, text.size() - s.name.size());
      multiplier = s.multiplier;
      break;
    }
  }
  if (number.starts_with('-')) return invalid("must not be negative");
  if (number.find_first_of("0123456789") == std::string_view::npos) return invalid("not a number");
  Decimal d;
  if (!SplitDecimal(number, &d)) {
    if (multiplier == 1 && !number.empty() && (number.back() < '0' || number.back() > '9')) {
      return invalid("unknown unit");
    }
    return invalid("not a number");
  }
  std::int64_t bytes = 0;
  if (!ScaleExact(d, multiplier, &bytes)) {
    if (multiplier == 1 && !d.fraction.empty()) return invalid("not a whole number of bytes");
    return invalid("too large or not a whole number of bytes");
  }
  return bytes;
}

std::string FormatMemory(std::int64_t bytes) {
  if (bytes > 0) {
    // Largest binary suffix that divides exactly, then decimal, then plain bytes.
    for (int i = 3; i >= 0; --i) {
      const Suffix& s = kMemorySuffixes[static_cast<std::size_t>(i)];
      if (bytes % s.multiplier == 0) return fmt::format("{}{}", bytes / s.multiplier, s.name);
    }
    for (int i = 7; i >= 4; --i) {
      const Suffix& s = kMemorySuffixes[static_cast<std::size_t>(i)];
      if (bytes % s.multiplier == 0) return fmt::format("{}{}", bytes / s.multiplier, s.name);
    }
  }
  return std::to_string(bytes);
}

core::Result<std::int64_t> ParseCpu(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return core::Error::InvalidArgument(fmt::format(
        "invalid cpu quantity \"{}\": {} (use cores or millicores: 0.5, 2, 500m)", text, why));
  };
  if (text.empty()) return invalid("empty");
  if (text.starts_with('-')) return invalid("must not be negative");
  std::int64_t millis = 0;
  if (text.ends_with('m')) {
    std::string_view number = text.substr(0, text.size() - 1);
    Decimal d;
    if (!SplitDecimal(number, &d)) return invalid("not a number");
    if (!ScaleExact(d, 1, &millis)) return invalid("finer than 1m or too large");
    return millis;
  }
  Decimal d;
  if (!SplitDecimal(text, &d)) {
    if (!text.empty() && (text.back() < '0' || text.back() > '9')) return invalid("unknown unit");
    return invalid("not a number");
  }
  if (!ScaleExact(d, 1000, &millis)) return invalid("finer than 1m or too large");
  return millis;
}

std::string FormatCpu(std::int64_t millicores) {
  if (millicores % 1000 == 0) return std::to_string(millicores / 1000);
  return fmt::format("{}m", millicores);
}

}  // namespace gantry::spec
