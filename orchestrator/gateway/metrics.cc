#include "gateway/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace gantry::gateway {

namespace {

// Backslash and newline always; the double quote only inside a label value.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  return Escape(value, true);
}

std::string EscapeHelp(std::string_view help) {
  return Escape(help, false);
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help),
                 name, type);
}

namespace {

template <typename Labels>
void AppendSampleImpl(std::string& out, std::string_view name, const Labels& labels, double value) {
  out.append(name);
  if (labels.size() > 0) {
    out.push_back('{');
    bool first = true;
    for (const Label& l : labels) {
      if (!first) out.push_back(',');
      first = false;
      out.append(l.name);
      out += "=\"";
      out += EscapeLabelValue(l.value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out += FormatValue(value);
  out.push_back('\n');
}

}  // namespace

void AppendSample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
                  double value) {
  AppendSampleImpl(out, name, labels, value);
}

void AppendSample(std::string& out, std::string_view name, const std::vector<Label>& labels,
                  double value) {
  AppendSampleImpl(out, name, labels, value);
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

std::vector<std::string> CounterFamily::Key(std::initializer_list<std::string_view> values) const {
  std::vector<std::string> key(label_names_.size());
  std::size_t i = 0;
  for (std::string_view v : values) {
    if (i == key.size()) break;
    key[i++] = std::string(v);
  }
  return key;
}

void CounterFamily::Add(std::initializer_list<std::string_view> values, double delta) {
  auto key = Key(values);
  std::lock_guard lock(mu_);
  series_[std::move(key)] += delta;
}

double CounterFamily::Value(std::initializer_list<std::string_view> values) const {
  auto key = Key(values);
  std::lock_guard lock(mu_);
  auto it = series_.find(key);
  return it == series_.end() ? 0 : it->second;
}

void CounterFamily::Render(std::string& out) const {
  AppendHeader(out, name_, help_, "counter");
  std::lock_guard lock(mu_);
  std::vector<Label> labels(label_names_.size());
  for (const auto& [values, count] : series_) {
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = {label_names_[i], values[i]};
    AppendSample(out, name_, labels, count);
  }
}

void Metrics::RecordInvocation(std::string_view ns, std::string_view function, int code,
                               double seconds, bool cold_start) {
  std::size_t bucket = 0;
  while (bucket < kDurationBuckets.size() && seconds > kDurationBuckets[bucket]) ++bucket;
  std::lock_guard lock(mu_);
  auto it = functions_.find(KeyView{ns, function});
  if (it == functions_.end()) {
    it = functions_.emplace(Key{std::string(ns), std::string(function)}, FunctionStats{}).first;
  }
  FunctionStats& s = it->second;
  ++s.codes[code];
  if (bucket < s.buckets.size()) ++s.buckets[bucket];
  ++s.count;
  s.sum += seconds;
  if (cold_start) ++s.cold_starts;
}

CounterFamily& Metrics::AddCounter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  return counters_.emplace_back(std::move(name), std::move(help), std::move(label_names));
}

void Metrics::AddCollector(std::function<void(std::string& out)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::Render() const {
  std::string out;
  std::vector<std::function<void(std::string&)>> collectors;
  {
    std::lock_guard lock(mu_);
    AppendHeader(out, "gantry_invocations_total", "Invocations by function and HTTP status code.",
                 "counter");
    for (const auto& [key, s] : functions_) {
      for (const auto& [code, n] : s.codes) {
        std::string code_text = std::to_string(code);
        AppendSample(out, "gantry_invocations_total",
                     {{"namespace", key.first}, {"function", key.second}, {"code", code_text}},
                     static_cast<double>(n));
      }
    }
    AppendHeader(out, "gantry_invocation_duration_seconds",
                 "Time from the request to the end of the response, through the gateway.",
                 "histogram");
    for (const auto& [key, s] : functions_) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
        cumulative += s.buckets[i];
        std::string le = FormatValue(kDurationBuckets[i]);
        AppendSample(out, "gantry_invocation_duration_seconds_bucket",
                     {{"namespace", key.first}, {"function", key.second}, {"le", le}},
                     static_cast<double>(cumulative));
      }
      AppendSample(out, "gantry_invocation_duration_seconds_bucket",
                   {{"namespace", key.first}, {"function", key.second}, {"le", "+Inf"}},
                   static_cast<double>(s.count));
      AppendSample(out, "gantry_invocation_duration_seconds_sum",
                   {{"namespace", key.first}, {"function", key.second}}, s.sum);
      AppendSample(out, "gantry_invocation_duration_seconds_count",
                   {{"namespace", key.first}, {"function", key.second}},
                   static_cast<double>(s.count));
    }
    AppendHeader(out, "gantry_cold_starts_total", "Invocations that waited for a cold start.",
                 "counter");
    for (const auto& [key, s] : functions_) {
      AppendSample(out, "gantry_cold_starts_total",
                   {{"namespace", key.first}, {"function", key.second}},
                   static_cast<double>(s.cold_starts));
    }
    for (const CounterFamily& c : counters_) c.Render(out);
    collectors = collectors_;
  }
  // Outside the lock: a collector may take its own locks, or record metrics itself.
  for (const auto& c : collectors) c(out);
  return out;
}

std::uint64_t Metrics::Invocations(std::string_view ns, std::string_view function, int code) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(KeyView{ns, function});
  if (it == functions_.end()) return 0;
  auto c = it->second.codes.find(code);
  return c == it->second.codes.end() ? 0 : c->second;
}

std::uint64_t Metrics::ColdStarts(std::string_view ns, std::string_view function) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(KeyView{ns, function});
  return it == functions_.end() ? 0 : it->second.cold_starts;
}

}  // namespace gantry::gateway
