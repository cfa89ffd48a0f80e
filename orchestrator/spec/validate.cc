#include "spec/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "spec/cron.h"
#include "spec/duration.h"
#include "spec/names.h"
#include "spec/quantity.h"
#include "spec/suggest.h"

namespace gantry::spec {

// Bounds on values; outside them a manifest is almost certainly a mistake.
namespace {

constexpr std::int64_t kMaxMemoryBytes = std::int64_t{64} * 1024 * 1024 * 1024;
constexpr std::int64_t kMinCpuMillis = 10;
constexpr std::int64_t kMaxCpuMillis = 64'000;
constexpr std::chrono::milliseconds kMinTimeout{10};
constexpr std::chrono::milliseconds kMaxTimeout{3'600'000};
constexpr std::chrono::milliseconds kMinIdleTimeout{1'000};
constexpr std::chrono::milliseconds kMaxIdleTimeout{86'400'000};
constexpr std::int64_t kMaxConcurrency = 1000;
constexpr std::int64_t kMaxReplicas = 100;
constexpr std::size_t kMaxEnvValueBytes = 32 * 1024;
constexpr std::size_t kMaxAnnotationBytes = 16 * 1024;  // each value
constexpr std::size_t kMaxTriggers = 16;
constexpr std::size_t kMaxTriggerBodyBytes = 64 * 1024;
// Where the "does it ever fire" check starts (validation reads no clock).
constexpr CivilMinute kNeverFrom{std::chrono::year(2024) / std::chrono::January / 1, 0, 0};

bool TakesHandler(Runtime r) {
  return r == Runtime::kPython3 || r == Runtime::kNode;
}
bool TakesCommand(Runtime r) {
  return r == Runtime::kExec || r == Runtime::kImage || r == Runtime::kDockerfile;
}
bool NeedsSource(Runtime r) {
  return r == Runtime::kPython3 || r == Runtime::kNode || r == Runtime::kDockerfile;
}
bool ServesOwnHttp(Runtime r) {
  return r == Runtime::kImage || r == Runtime::kDockerfile;
}

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentifierChar(char c) {
  return IsIdentifierStart(c) || (c >= '0' && c <= '9');
}

// "module.function": dot-separated identifiers, at least two. Node files may also use '-'.
std::optional<std::string> CheckHandler(std::string_view handler, Runtime runtime) {
  if (handler.empty()) return "must not be empty";
  auto last_dot = handler.rfind('.');
  if (last_dot == std::string_view::npos || last_dot == 0 || last_dot + 1 == handler.size()) {
    return fmt::format("\"{}\" must be <module>.<function>, e.g. handler.main", handler);
  }
  std::size_t start = 0;
  while (start <= handler.size()) {
    auto end = handler.find('.', start);
    if (end == std::string_view::npos) end = handler.size();
    std::string_view part = handler.substr(start, end - start);
    bool is_function = end == handler.size();
    bool ok = !part.empty() && IsIdentifierStart(part.front());
    for (char c : part) {
      ok = ok && (IsIdentifierChar(c) || (!is_function && runtime == Runtime::kNode && c == '-'));
    }
    if (!ok) {
      return fmt::format(
          "\"{}\" must be <module>.<function> made of identifiers; \"{}\" is not one", handler,
          part);
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Collects errors with a terse call syntax.
class ErrorSink {
 public:
  explicit ErrorSink(std::vector<FieldError>& errors) : errors_(errors), start_(errors.size()) {}

  template <typename... Args>
  void Add(std::string path, fmt::format_string<Args...> format, Args&&... args) {
    errors_.push_back({std::move(path), fmt::format(format, std::forward<Args>(args)...)});
  }
  template <typename... Args>
  void AddForKey(std::string path, fmt::format_string<Args...> format, Args&&... args) {
    errors_.push_back({std::move(path), fmt::format(format, std::forward<Args>(args)...), true});
  }
  std::size_t count() const { return errors_.size() - start_; }
  bool any() const { return count() > 0; }
  core::Error Summary() const {
    return core::Error::InvalidArgument(count() == 1 ? std::string("1 error")
                                                     : fmt::format("{} errors", count()));
  }

 private:
  std::vector<FieldError>& errors_;
  std::size_t start_;
};

void CheckName(ErrorSink& sink, const std::string& path, const std::optional<std::string>& name) {
  if (!name) {
    sink.Add(path, "required");
  } else if (auto why = CheckDns1123Label(*name)) {
    sink.Add(path, "\"{}\" is not a valid name: {}", *name, *why);
  }
}

std::string NamespaceOf(ErrorSink& sink, const std::optional<std::string>& ns) {
  if (!ns) return std::string(kDefaultNamespace);
  if (auto why = CheckDns1123Label(*ns)) {
    sink.Add("metadata.namespace", "\"{}\" is not a valid namespace: {}", *ns, *why);
  }
  return *ns;
}

// spec.triggers: each a cron schedule or a topic, never both; the cron-only fields only
// with cron. Errors name spec.triggers[i].field.
std::vector<Trigger> CheckTriggers(ErrorSink& sink, const std::vector<TriggerManifest>& list) {
  std::vector<Trigger> out;
  if (list.size() > kMaxTriggers) {
    sink.Add("spec.triggers", "has {} triggers; at most {} allowed", list.size(), kMaxTriggers);
  }
  std::set<std::string> topics;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const TriggerManifest& m = list[i];
    std::string path = fmt::format("spec.triggers[{}]", i);
    Trigger t;
    if (m.cron && m.topic) {
      sink.Add(path + ".topic", "a trigger is a cron schedule or a topic, not both");
      continue;
    }
    if (!m.cron && !m.topic) {
      // At .cron: a misspelt "cron" is reported already, and this is then left out.
      sink.Add(path + ".cron", "required (a schedule, e.g. \"*/5 * * * *\"), or topic (a name)");
      continue;
    }
    if (m.topic) {
      t.kind = Trigger::Kind::kTopic;
      t.topic = *m.topic;
      if (auto why = CheckDns1123Label(*m.topic)) {
        sink.Add(path + ".topic", "\"{}\" is not a valid topic name: {}", *m.topic, *why);
      } else if (!topics.insert(*m.topic).second) {
        sink.Add(path + ".topic", "topic \"{}\" is listed twice", *m.topic);
      }
      const std::pair<const char*, bool> cron_only[] = {{"timezone", m.timezone.has_value()},
                                                        {"missed", m.missed.has_value()},
                                                        {"body", m.body.has_value()},
                                                        {"headers", !m.headers.empty()}};
      for (const auto& [field, given] : cron_only) {
        if (given) {
          sink.Add(path + "." + field,
                   "only for cron triggers (a topic's calls carry the published event)");
        }
      }
      out.push_back(std::move(t));
      continue;
    }
    t.cron = *m.cron;
    if (auto schedule = ParseCron(*m.cron); !schedule) {
      sink.Add(path + ".cron", "\"{}\" is not a valid schedule: {}", *m.cron,
               schedule.error().message());
    } else if (!NextMatch(*schedule, kNeverFrom)) {
      // Any day a schedule names comes within 8 years of 2024 if it ever comes (leap days).
      sink.Add(path + ".cron", "\"{}\" never fires (no such day in 8 years)", *m.cron);
    }
    if (m.timezone) {
      if (auto why = CheckTimezoneName(*m.timezone)) {
        sink.Add(path + ".timezone", "\"{}\" is not a valid time zone: {}", *m.timezone, *why);
      }
      t.timezone = *m.timezone;
    }
    if (m.missed) {
      if (*m.missed == "skip") {
        t.missed = Trigger::Missed::kSkip;
      } else if (*m.missed != "once") {
        sink.Add(path + ".missed", "must be once or skip, not \"{}\"", *m.missed);
      }
    }
    if (m.body) {
      if (m.body->size() > kMaxTriggerBodyBytes) {
        sink.Add(path + ".body", "is {} bytes; at most {} allowed", m.body->size(),
                 kMaxTriggerBodyBytes);
      }
      t.body = *m.body;
    }
    for (const auto& [name, value] : m.headers) {
      if (auto why = CheckHeaderName(name)) {
        sink.AddForKey(path + ".headers." + name, "\"{}\" is not a valid header name: {}", name,
                       *why);
      } else if (value.find_first_of("\r\n") != std::string::npos) {
        sink.Add(path + ".headers." + name, "must not contain a line break");
      }
    }
    t.headers = m.headers;
    out.push_back(std::move(t));
  }
  return out;
}

bool IsUnder(const std::string& normalized) {
  return normalized == ".." || normalized.starts_with("../");
}

}  // namespace

// Builders are the only code allowed to write a spec's private fields.
class FunctionSpecBuilder {
 public:
  static core::Result<FunctionSpec> Build(const FunctionManifest& m,
                                          std::vector<FieldError>& errors);
};

class SecretSpecBuilder {
 public:
  static core::Result<SecretSpec> Build(const SecretManifest& m, std::vector<FieldError>& errors);
};

core::Result<FunctionSpec> FunctionSpecBuilder::Build(const FunctionManifest& m,
                                                      std::vector<FieldError>& errors) {
  ErrorSink sink(errors);
  FunctionSpec spec;

  CheckName(sink, "metadata.name", m.name);
  spec.name_ = m.name.value_or("");
  spec.namespace_name_ = NamespaceOf(sink, m.namespace_name);
  for (const auto& [key, value] : m.labels) {
    std::string path = "metadata.labels." + key;
    if (auto why = CheckLabelKey(key)) {
      sink.AddForKey(path, "\"{}\" is not a valid label key: {}", key, why.value());
    }
    if (auto why = CheckLabelValue(value)) {
      sink.Add(path, "\"{}\" is not a valid label value: {}", value, why.value());
    }
  }
  spec.labels_ = m.labels;
  for (const auto& [key, value] : m.annotations) {
    std::string path = "metadata.annotations." + key;
    if (auto why = CheckLabelKey(key)) {
      sink.AddForKey(path, "\"{}\" is not a valid annotation key: {}", key, why.value());
    }
    if (value.size() > kMaxAnnotationBytes) {
      sink.Add(path, "is {} bytes, over the limit of {}", value.size(), kMaxAnnotationBytes);
    }
  }
  spec.annotations_ = m.annotations;

  // The runtime decides which other fields are required and which are forbidden; when it
  // is missing or wrong those checks are skipped rather than guessed.
  std::optional<Runtime> runtime;
  if (!m.runtime) {
    sink.Add("spec.runtime", "required (one of: {})", fmt::join(RuntimeNames(), ", "));
  } else if (!(runtime = ParseRuntime(*m.runtime))) {
    if (auto near = Suggest(*m.runtime, RuntimeNames())) {
      sink.Add("spec.runtime", "unknown runtime \"{}\" (did you mean \"{}\"?)", *m.runtime, *near);
    } else {
      sink.Add("spec.runtime", "unknown runtime \"{}\" (one of: {})", *m.runtime,
               fmt::join(RuntimeNames(), ", "));
    }
  }
  if (runtime) {
    spec.runtime_ = *runtime;
    std::string_view rt = RuntimeName(*runtime);

    if (m.handler) {
      if (!TakesHandler(*runtime)) {
        sink.Add("spec.handler",
                 "not allowed for runtime {} (only python3 and node take a handler)", rt);
      } else if (auto why = CheckHandler(*m.handler, *runtime)) {
        sink.Add("spec.handler", "{}", *why);
      } else {
        spec.handler_ = *m.handler;
      }
    } else if (TakesHandler(*runtime)) {
      sink.Add("spec.handler", "required for runtime {} (e.g. handler.main)", rt);
    }

    if (m.command) {
      if (!TakesCommand(*runtime)) {
        sink.Add("spec.command", "not allowed for runtime {} (the handler is what runs)", rt);
      } else if (m.command->empty()) {
        sink.Add("spec.command", "must not be empty (e.g. [\"cat\"])");
      } else if (m.command->front().empty()) {
        sink.Add("spec.command[0]", "the program name must not be empty");
      } else {
        spec.command_ = *m.command;
      }
    } else if (*runtime == Runtime::kExec) {
      sink.Add("spec.command", "required for runtime exec (e.g. [\"cat\"])");
    }

    if (m.source) {
      if (*runtime == Runtime::kImage) {
        sink.Add("spec.source", "not allowed for runtime image (the image is already built)");
      } else if (m.source->empty()) {
        sink.Add("spec.source", "must not be empty");
      } else {
        spec.source_ = NormalizePath(*m.source);
        spec.source_path_ = ResolvePath(m.base_dir, *m.source);
      }
    } else if (NeedsSource(*runtime)) {
      sink.Add("spec.source", "required for runtime {} (a directory relative to the manifest)", rt);
    }

    if (m.dockerfile) {
      if (*runtime != Runtime::kDockerfile) {
        sink.Add("spec.dockerfile", "not allowed for runtime {} (only dockerfile)", rt);
      } else {
        std::string normalized = NormalizePath(*m.dockerfile);
        if (m.dockerfile->empty() || normalized == ".") {
          sink.Add("spec.dockerfile", "must name a file inside spec.source");
        } else if (normalized.starts_with('/') || IsUnder(normalized)) {
          sink.Add("spec.dockerfile", "\"{}\" must be a path inside spec.source", *m.dockerfile);
        } else {
          spec.dockerfile_ = normalized;
        }
      }
    } else if (*runtime == Runtime::kDockerfile) {
      spec.dockerfile_ = std::string(kDefaultDockerfile);
    }

    if (m.image) {
      if (*runtime != Runtime::kImage) {
        sink.Add("spec.image",
                 "not allowed for runtime {} (Gantry builds its image; use runtime image to run "
                 "your own)",
                 rt);
      } else if (auto why = CheckImageReference(*m.image)) {
        sink.Add("spec.image", "\"{}\" is not a valid image reference: {}", *m.image, *why);
      } else {
        spec.image_ = *m.image;
      }
    } else if (*runtime == Runtime::kImage) {
      sink.Add("spec.image", "required for runtime image (e.g. my/echo:1)");
    }

    bool lambda = false;
    if (m.protocol) {
      if (!ServesOwnHttp(*runtime)) {
        sink.Add("spec.protocol",
                 "not allowed for runtime {} (only dockerfile and image choose one)", rt);
      } else if (*m.protocol == "lambda") {
        lambda = true;
        spec.protocol_ = Protocol::kLambda;
      } else if (*m.protocol != "http") {
        sink.Add("spec.protocol", "\"{}\" is not a protocol (http or lambda)", *m.protocol);
      }
    }

    if (m.port && lambda) {
      sink.Add("spec.port",
               "not allowed with protocol lambda (calls reach it through the Runtime API)");
    } else if (lambda) {
      spec.port_ = 0;
    } else if (m.port) {
      if (!ServesOwnHttp(*runtime)) {
        sink.Add("spec.port",
                 "not allowed for runtime {} (only image and dockerfile serve their own HTTP)", rt);
      } else if (*m.port < 1 || *m.port > 65535) {
        sink.Add("spec.port", "must be between 1 and 65535 (is {})", *m.port);
      } else {
        spec.port_ = static_cast<int>(*m.port);
      }
    } else if (ServesOwnHttp(*runtime)) {
      spec.port_ = kDefaultPort;
    }
  }

  if (m.read_only_root) spec.read_only_root_ = *m.read_only_root;
  spec.triggers_ = CheckTriggers(sink, m.triggers);
  if (m.network) {
    if (auto network = ParseNetwork(*m.network)) {
      spec.network_ = *network;
      // Such an image is reached through a port published on 127.0.0.1: it needs a network.
      if (*network == Network::kNone && spec.port_ > 0) {
        sink.Add("spec.network",
                 "none is not allowed for runtime {} (it serves HTTP on port {}, reached "
                 "through a published port)",
                 RuntimeName(spec.runtime_), spec.port_);
      }
    } else if (auto near = Suggest(*m.network, NetworkNames())) {
      sink.Add("spec.network", "unknown network \"{}\" (did you mean \"{}\"?)", *m.network, *near);
    } else {
      sink.Add("spec.network", "unknown network \"{}\" (one of: {})", *m.network,
               fmt::join(NetworkNames(), ", "));
    }
  }

  for (const auto& [key, value] : m.env) {
    if (auto why = CheckEnvName(key)) {
      sink.AddForKey("spec.env." + key, "\"{}\" is not a valid variable name: {}", key, *why);
    } else if (value.size() > kMaxEnvValueBytes) {
      sink.Add("spec.env." + key, "value is {} bytes; at most {} allowed", value.size(),
               kMaxEnvValueBytes);
    }
  }
  spec.env_ = m.env;

  std::set<std::string> seen_secrets;
  for (std::size_t i = 0; i < m.secrets.size(); ++i) {
    const std::string& secret = m.secrets[i];
    std::string path = fmt::format("spec.secrets[{}]", i);
    if (auto why = CheckDns1123Label(secret)) {
      sink.Add(path, "\"{}\" is not a valid secret name: {}", secret, *why);
    } else if (!seen_secrets.insert(secret).second) {
      sink.Add(path, "secret \"{}\" is listed twice", secret);
    }
  }
  spec.secrets_.assign(seen_secrets.begin(), seen_secrets.end());

  // Quantities and durations share one shape: parse, check the range, keep the value.
  auto check_value = [&](const std::string& path, const std::optional<std::string>& text,
                         auto parse, auto format, auto lo, auto hi, auto& out) {
    if (!text) return;
    auto parsed = parse(*text);
    if (!parsed) {
      sink.Add(path, "{}", parsed.error().message());
    } else if (*parsed < lo || *parsed > hi) {
      sink.Add(path, "must be between {} and {} (is {})", format(lo), format(hi), *text);
    } else {
      out = *parsed;
    }
  };
  check_value("spec.resources.memory", m.memory, ParseMemory, FormatMemory, kMinMemoryBytes,
              kMaxMemoryBytes, spec.resources_.memory_bytes);
  check_value("spec.resources.cpu", m.cpu, ParseCpu, FormatCpu, kMinCpuMillis, kMaxCpuMillis,
              spec.resources_.cpu_millis);
  check_value("spec.timeout", m.timeout, ParseDuration, FormatDuration, kMinTimeout, kMaxTimeout,
              spec.timeout_);
  check_value("spec.scale.idleTimeout", m.idle_timeout, ParseDuration, FormatDuration,
              kMinIdleTimeout, kMaxIdleTimeout, spec.scale_.idle_timeout);
  check_value("spec.scale.pauseAfter", m.pause_after, ParseDuration, FormatDuration,
              kMinIdleTimeout, kMaxIdleTimeout, spec.scale_.pause_after);
  if (m.pause_after && spec.scale_.pause_after.count() > 0 &&
      spec.scale_.pause_after >= spec.scale_.idle_timeout) {
    sink.Add("spec.scale.pauseAfter",
             "must be shorter than idleTimeout ({}), or the replica is "
             "removed before it is ever paused (is {})",
             FormatDuration(spec.scale_.idle_timeout), *m.pause_after);
  }
  if (m.keep_alive) {
    if (*m.keep_alive == "fixed") {
      spec.scale_.keep_alive = KeepAlive::kFixed;
    } else if (*m.keep_alive == "adaptive") {
      spec.scale_.keep_alive = KeepAlive::kAdaptive;
    } else {
      sink.Add("spec.scale.keepAlive", "unknown keep-alive \"{}\" (one of: fixed, adaptive)",
               *m.keep_alive);
    }
  }

  if (m.concurrency) {
    if (*m.concurrency < 1 || *m.concurrency > kMaxConcurrency) {
      sink.Add("spec.concurrency", "must be between 1 and {} (is {})", kMaxConcurrency,
               *m.concurrency);
    } else {
      spec.concurrency_ = static_cast<int>(*m.concurrency);
    }
  }

  bool min_ok = true;
  bool max_ok = true;
  if (m.scale_min && (*m.scale_min < 0 || *m.scale_min > kMaxReplicas)) {
    sink.Add("spec.scale.min", "must be between 0 and {} (is {})", kMaxReplicas, *m.scale_min);
    min_ok = false;
  }
  if (m.scale_max && (*m.scale_max < 1 || *m.scale_max > kMaxReplicas)) {
    sink.Add("spec.scale.max", "must be between 1 and {} (is {})", kMaxReplicas, *m.scale_max);
    max_ok = false;
  }
  if (min_ok && max_ok) {
    std::int64_t lo = m.scale_min.value_or(kDefaultScaleMin);
    std::int64_t hi = m.scale_max.value_or(kDefaultScaleMax);
    if (lo > hi) {
      if (m.scale_max) {
        sink.Add("spec.scale.max", "must be ≥ spec.scale.min ({})", lo);
      } else {
        sink.Add("spec.scale.min", "must be ≤ spec.scale.max ({}, the default)", hi);
      }
    } else {
      spec.scale_.min = static_cast<int>(lo);
      spec.scale_.max = static_cast<int>(hi);
    }
  }

  if (sink.any()) return sink.Summary();
  return spec;
}

core::Result<SecretSpec> SecretSpecBuilder::Build(const SecretManifest& m,
                                                  std::vector<FieldError>& errors) {
  ErrorSink sink(errors);
  SecretSpec secret;
  CheckName(sink, "metadata.name", m.name);
  secret.name_ = m.name.value_or("");
  secret.namespace_name_ = NamespaceOf(sink, m.namespace_name);

  int given = (m.value ? 1 : 0) + (m.file ? 1 : 0) + (m.from_env ? 1 : 0);
  if (given == 0) {
    sink.Add("spec", "one of value, file or fromEnv is required");
  } else if (given > 1) {
    // Point at the later ones: the first is taken to be what was meant.
    bool first = true;
    auto extra = [&](const std::optional<std::string>& field, std::string_view name) {
      if (!field) return;
      if (!first)
        sink.Add(fmt::format("spec.{}", name), "only one of value, file or fromEnv may be given");
      first = false;
    };
    extra(m.value, "value");
    extra(m.file, "file");
    extra(m.from_env, "fromEnv");
  } else if (m.value) {
    secret.source_ = SecretSource::kLiteral;
    secret.literal_ = *m.value;
    if (m.value->empty()) sink.Add("spec.value", "must not be empty");
  } else if (m.file) {
    secret.source_ = SecretSource::kFile;
    if (m.file->empty()) {
      sink.Add("spec.file", "must not be empty");
    } else {
      secret.file_ = *m.file;
      secret.file_path_ = ResolvePath(m.base_dir, *m.file);
    }
  } else {
    secret.source_ = SecretSource::kEnv;
    if (auto why = CheckEnvName(*m.from_env)) {
      sink.Add("spec.fromEnv", "\"{}\" is not a valid variable name: {}", *m.from_env, *why);
    }
    secret.env_name_ = *m.from_env;
  }
  if (sink.any()) return sink.Summary();
  return secret;
}

core::Result<FunctionSpec> ValidateFunction(const FunctionManifest& manifest,
                                            std::vector<FieldError>& errors) {
  return FunctionSpecBuilder::Build(manifest, errors);
}

core::Result<SecretSpec> ValidateSecret(const SecretManifest& manifest,
                                        std::vector<FieldError>& errors) {
  return SecretSpecBuilder::Build(manifest, errors);
}

std::string NormalizePath(const std::string& path) {
  bool absolute = path.starts_with('/');
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  if (out.empty()) return std::string(1, '.');
  return out;
}

std::string ResolvePath(const std::string& base_dir, const std::string& relative) {
  if (relative.starts_with('/') || base_dir.empty()) return NormalizePath(relative);
  return NormalizePath(base_dir + "/" + relative);
}

}  // namespace gantry::spec
