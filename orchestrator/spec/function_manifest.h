#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::spec {

// The API version every manifest names in `apiVersion`.
inline constexpr std::string_view kApiVersion = "gantry.dev/v1";

// One entry of spec.triggers as written: a schedule (cron, with timezone, missed, body and
// headers) or a topic subscription (topic).
struct TriggerManifest {
  std::optional<std::string> cron;
  std::optional<std::string> timezone;
  std::optional<std::string> missed;  // "once" | "skip"
  std::optional<std::string> body;
  std::map<std::string, std::string> headers;
  std::optional<std::string> topic;
};

// FunctionManifest is a `kind: Function` document as the user wrote it, after the YAML
// layer has checked its shape (known fields, right types) but before any value is checked.
// An unset optional means the field was not given. Plain value type; ValidateFunction()
// turns it into a FunctionSpec. Field paths in errors follow the YAML ("spec.scale.max").
struct FunctionManifest {
  std::optional<std::string> name;                 // metadata.name
  std::optional<std::string> namespace_name;       // metadata.namespace
  std::map<std::string, std::string> labels;       // metadata.labels
  std::map<std::string, std::string> annotations;  // metadata.annotations

  std::optional<std::string> runtime;
  std::optional<std::string> handler;
  std::optional<std::vector<std::string>> command;
  std::optional<std::string> source;
  std::optional<std::string> dockerfile;
  std::optional<std::string> image;
  std::optional<std::int64_t> port;
  std::optional<std::string> protocol;  // dockerfile/image: "http" | "lambda"
  std::map<std::string, std::string> env;
  std::vector<std::string> secrets;
  std::optional<std::string> memory;  // spec.resources.memory
  std::optional<std::string> cpu;     // spec.resources.cpu
  std::optional<std::string> timeout;
  std::optional<std::int64_t> concurrency;
  std::optional<std::int64_t> scale_min;
  std::optional<std::string> idle_timeout;  // spec.scale.idleTimeout
  std::optional<std::string> pause_after;   // spec.scale.pauseAfter
  std::optional<std::string> keep_alive;    // spec.scale.keepAlive
  std::optional<std::int64_t> scale_max;
  std::optional<std::string> network;
  std::optional<bool> read_only_root;     // spec.readOnlyRootFilesystem
  std::vector<TriggerManifest> triggers;  // spec.triggers

  // Directory `source` is relative to: the directory of the manifest file.
  std::string base_dir;
};

// SecretManifest is a `kind: Secret` document as written: exactly one of value (a
// literal), file (relative to the manifest file) or from_env (an environment variable
// read when the secret is applied) should be set.
struct SecretManifest {
  std::optional<std::string> name;
  std::optional<std::string> namespace_name;
  std::optional<std::string> value;
  std::optional<std::string> file;
  std::optional<std::string> from_env;
  std::string base_dir;
};

}  // namespace gantry::spec
