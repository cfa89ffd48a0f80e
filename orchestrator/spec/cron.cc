#include "spec/cron.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace gantry::spec {
namespace {

using namespace std::chrono;

struct FieldRule {
  std::string_view name;
  int lo;
  int hi;
  const std::array<std::string_view, 12>* names;  // names[i] means lo + i (for months, days)
};

constexpr std::array<std::string_view, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 12> kDayNames{"SUN", "MON", "TUE", "WED", "THU", "FRI",
                                                     "SAT", "",    "",    "",    "",    ""};

const FieldRule kRules[5] = {{"minute", 0, 59, nullptr},
                             {"hour", 0, 23, nullptr},
                             {"day-of-month", 1, 31, nullptr},
                             {"month", 1, 12, &kMonthNames},
                             {"day-of-week", 0, 7, &kDayNames}};

struct Shorthand {
  std::string_view name;
  std::string_view expression;
};
constexpr Shorthand kShorthands[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

std::optional<int> Number(std::string_view text, const FieldRule& rule) {
  if (text.empty()) return std::nullopt;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) return v;
  if (rule.names == nullptr || text.size() != 3) return std::nullopt;
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < rule.names->size(); ++i) {
    if ((*rule.names)[i] == upper) return rule.lo + static_cast<int>(i);
  }
  return std::nullopt;
}

// One field into `out` (bit v for each admitted value v); an error message or "".
std::string ParseField(std::string_view field, const FieldRule& rule, std::vector<bool>& out) {
  auto fail = [&](std::string why) {
    return fmt::format("{} field \"{}\": {}", rule.name, field, why);
  };
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t comma = field.find(',', start);
    if (comma == std::string_view::npos) comma = field.size();
    std::string_view item = field.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) return fail("an empty list item");
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view step_text = item.substr(slash + 1);
      int s = 0;
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), s);
      if (ec != std::errc() || end != step_text.data() + step_text.size() || step_text.empty()) {
        return fail(fmt::format("step \"{}\" is not a number", step_text));
      }
      if (s < 1 || s > rule.hi) {
        return fail(fmt::format("step {} is out of range 1-{}", s, rule.hi));
      }
      step = s;
      item = item.substr(0, slash);
    }
    int lo = rule.lo;
    int hi = rule.hi;
    if (item != "*") {
      std::size_t dash = item.find('-');
      std::string_view first = item.substr(0, dash);
      auto a = Number(first, rule);
      if (!a) return fail(fmt::format("\"{}\" is not a number", first));
      lo = *a;
      if (dash != std::string_view::npos) {
        std::string_view last = item.substr(dash + 1);
        auto b = Number(last, rule);
        if (!b) return fail(fmt::format("\"{}\" is not a number", last));
        hi = *b;
      } else if (step == 1) {
        hi = lo;  // "N"; "N/S" runs from N to the field's end
      }
      for (int v : {lo, hi}) {
        if (v < rule.lo || v > rule.hi) {
          return fail(fmt::format("{} is out of range {}-{}", v, rule.lo, rule.hi));
        }
      }
      if (lo > hi) return fail(fmt::format("range {}-{} runs backwards", lo, hi));
    }
    for (int v = lo; v <= hi; v += step) out[static_cast<std::size_t>(v)] = true;
  }
  return "";
}

bool DayMatches(const CronSchedule& s, const year_month_day& date) {
  bool dom = s.days_of_month[static_cast<unsigned>(date.day())];
  bool dow = s.days_of_week[weekday(sys_days(date)).c_encoding()];
  if (s.dom_restricted && s.dow_restricted) return dom || dow;
  return dom && dow;
}

}  // namespace

core::Result<CronSchedule> ParseCron(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.starts_with('@')) {
    for (const Shorthand& s : kShorthands) {
      if (text == s.name) return ParseCron(s.expression);
    }
    std::string known;
    for (const Shorthand& s : kShorthands)
      known += (known.empty() ? "" : ", ") + std::string(s.name);
    return core::Error::InvalidArgument(
        fmt::format("unknown shorthand \"{}\" (known: {})", text, known));
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return core::Error::InvalidArgument(fmt::format(
        "expected 5 fields (minute hour day-of-month month day-of-week), got {}", fields.size()));
  }
  CronSchedule s;
  std::vector<bool> bits[5];
  for (std::size_t f = 0; f < 5; ++f) {
    bits[f].assign(static_cast<std::size_t>(kRules[f].hi) + 1, false);
    if (std::string why = ParseField(fields[f], kRules[f], bits[f]); !why.empty()) {
      return core::Error::InvalidArgument(why);
    }
  }
  for (std::size_t v = 0; v < 60; ++v) s.minutes[v] = bits[0][v];
  for (std::size_t v = 0; v < 24; ++v) s.hours[v] = bits[1][v];
  for (std::size_t v = 1; v <= 31; ++v) s.days_of_month[v] = bits[2][v];
  for (std::size_t v = 1; v <= 12; ++v) s.months[v] = bits[3][v];
  for (std::size_t v = 0; v <= 7; ++v) {
    if (bits[4][v]) s.days_of_week[v % 7] = true;  // 7 is Sunday too
  }
  s.dom_restricted = !fields[2].starts_with('*');
  s.dow_restricted = !fields[4].starts_with('*');
  return s;
}

std::optional<CivilMinute> NextMatch(const CronSchedule& s, const CivilMinute& after) {
  auto day = sys_days(after.date);
  const sys_days last = day + days(8 * 366);
  int hour = after.hour;
  int minute = after.minute + 1;  // strictly after
  for (; day <= last; day += days(1), hour = 0, minute = 0) {
    year_month_day date(day);
    if (!s.months[static_cast<unsigned>(date.month())] || !DayMatches(s, date)) continue;
    for (; hour < 24; ++hour, minute = 0) {
      if (!s.hours[static_cast<std::size_t>(hour)]) continue;
      for (; minute < 60; ++minute) {
        if (s.minutes[static_cast<std::size_t>(minute)]) return CivilMinute{date, hour, minute};
      }
    }
  }
  return std::nullopt;
}

std::string FormatCivil(const CivilMinute& m) {
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}", static_cast<int>(m.date.year()),
                     static_cast<unsigned>(m.date.month()), static_cast<unsigned>(m.date.day()),
                     m.hour, m.minute);
}

}  // namespace gantry::spec
