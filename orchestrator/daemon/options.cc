#include "daemon/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <string_view>
#include <tuple>

#include "core/identity.h"
#include "core/version.h"
#include "spec/duration.h"
#include "spec/quantity.h"

namespace gantry::daemon {

void AddFlags(CLI::App& app, Flags& flags) {
  app.set_version_flag("--version", std::string("gantryd ") + std::string(core::kVersion));
  app.add_option("--listen", flags.listen, "address of the API and invoke gateway")
      ->capture_default_str();
  app.add_option("--state-dir", flags.state_dir, "database, token and replica sockets")
      ->capture_default_str();
  app.add_option("--docker-host", flags.docker_host,
                 "engine address (default: $DOCKER_HOST or the local socket)");
  app.add_option("--token-file", flags.token_file,
                 "management token file (default: <state-dir>/token)");
  app.add_flag("--no-auth", flags.no_auth,
               "accept management calls without a token (local development only)");
  app.add_option("--shim", flags.shim,
                 "the static gantry-shim copied into template images (default: beside gantryd)");
  app.add_option("--bootstrap-dir", flags.bootstrap_dir, "runtime bootstraps (python3/, node/)");
  app.add_option("--base-image", flags.base_images,
                 "RUNTIME=IMAGE: base image of a template runtime (repeatable)");
  app.add_option(
      "--label", flags.labels,
      "KEY=VALUE put on every container and image gantryd makes; it then adopts or removes only "
      "containers carrying it, besides its own gantry.instance (repeatable; tests use "
      "gantry.test=...)");
  app.add_option("--async-workers", flags.async_workers,
                 "threads running queued async calls (0: queue only)")
      ->capture_default_str();
  app.add_option("--async-queue-max", flags.async.queue.max_calls,
                 "async calls queued at most, in total (0: no bound)")
      ->capture_default_str();
  app.add_option("--async-queue-max-per-function", flags.async.queue.max_calls_per_function,
                 "async calls queued at most for one function (0: only the total bound)")
      ->capture_default_str();
  app.add_option(
         "--async-queue-max-bytes", flags.async.queue.max_bytes,
         "bytes of queued async calls (bodies, headers, paths) at most, in total (0: no bound)")
      ->capture_default_str();
  app.add_option("--async-body-max", flags.async.max_body_bytes,
                 "bytes of one async request body at most")
      ->capture_default_str();
  app.add_option(
      "--callback-deny", flags.callback_deny,
      "CIDR async callbacks may not connect to (repeatable; replaces the default 127.0.0.0/8, ::1, "
      "169.254.0.0/16, fe80::/10, 0.0.0.0/8, ::; 'none': allow every address)");
  app.add_option("--log-level", flags.log_level, "debug, info, warn or error")
      ->capture_default_str();
  app.add_option(
         "--socket-dir-size", flags.socket_dir_size,
         "bytes of the tmpfs each replica's socket directory is (needs root; 0: a plain directory, "
         "unbounded)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stem-cells", flags.stem_cells,
                 "free stem cells kept per template runtime (python3, node, exec): a new "
                 "function's first call specialises one instead of creating a container (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  app.add_option("--container-log-max-size", flags.container_log_max_size,
                 "json-file log of every container rotated at this size (engine syntax: 10m, 512k)")
      ->capture_default_str();
  app.add_option("--container-log-max-files", flags.container_log_max_files,
                 "rotated log files kept per container")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-connections", flags.gateway.max_connections,
                 "client connections open at once; more are answered 503 and closed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--header-timeout", flags.header_timeout,
                 "a request head must be complete this long after its first byte (e.g. 10s, 500ms)")
      ->capture_default_str();
  app.add_option("--max-api-queue", flags.gateway.max_api_queue,
                 "management calls waiting for a worker; more are answered 503")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-upload", flags.max_upload,
                 "bytes of a function bundle as uploaded by apply (e.g. 50Mi); 413 beyond")
      ->capture_default_str();
  app.add_option("--max-unpacked", flags.max_unpacked,
                 "bytes of a function bundle's files once unpacked; 413 beyond")
      ->capture_default_str();
  app.add_option("--pip-index-url", flags.pip_index_url,
                 "package index pip installs requirements.txt from (PIP_INDEX_URL)");
  app.add_option("--pip-find-links", flags.pip_find_links,
                 "URL of a page of links to packages for pip (PIP_FIND_LINKS)");
  app.add_option("--npm-registry", flags.npm_registry,
                 "registry npm installs package.json from (npm_config_registry)");
  app.add_option("--log-max-bytes-per-function", flags.log_max_bytes_per_function,
                 "function output kept in memory per function (e.g. 4Mi); the oldest lines go")
      ->capture_default_str();
  app.add_option("--log-max-age", flags.log_max_age,
                 "function output older than this is dropped from memory (e.g. 24h)")
      ->capture_default_str();
  app.add_flag("--records,!--no-records", flags.records,
               "keep a record of every invocation (GET .../invocations); off: async calls only")
      ->capture_default_str();
  app.add_option("--record-max-count", flags.record_max_count,
                 "invocation records kept, newest first (0: no bound)")
      ->capture_default_str();
  app.add_option("--record-max-age", flags.record_max_age,
                 "invocation records older than this are removed (7d, 12h, 30m; 0s: no bound)")
      ->capture_default_str();
  app.add_option("--record-result-max", flags.async.max_record_result_bytes,
                 "bytes of an async call's answer kept in its record (the rest is cut off)")
      ->capture_default_str();
  app.add_option("--async-retry-delay", flags.async_retry_delay,
                 "before an async call's 2nd attempt (doubled after each; 5 attempts)")
      ->capture_default_str();
  app.add_option("--cron-poll", flags.cron_poll, "how often cron triggers are looked at")
      ->capture_default_str();
  app.add_option("--test-clock-speed", flags.test_clock_speed)
      ->check(CLI::Range(1, 3600))
      ->group("");  // tests only (options.h)
}

core::Status ResolveFlags(Flags& f) {
  for (auto [flag, text, out] :
       {std::tuple{"--max-upload", &f.max_upload, &f.bundle_limits.max_upload},
        std::tuple{"--max-unpacked", &f.max_unpacked, &f.bundle_limits.max_unpacked}}) {
    auto bytes = spec::ParseMemory(*text);
    if (!bytes || *bytes <= 0) {
      return core::Error::InvalidArgument(
          fmt::format("{}: expected a size such as 50Mi or 250M", flag));
    }
    *out = static_cast<std::uint64_t>(*bytes);
  }
  // The bundle is the largest management body; the route itself answers 413 with the flag.
  f.gateway.max_api_body =
      std::max<std::uint64_t>(f.gateway.max_api_body, f.bundle_limits.max_upload);

  if (auto t = spec::ParseDuration(f.header_timeout); t && t->count() > 0) {
    f.gateway.header_timeout = *t;
  } else {
    return core::Error::InvalidArgument(
        "--header-timeout: expected a positive duration such as 10s or 500ms");
  }
  if (!core::ParseLogLevel(f.log_level, &f.level)) {
    return core::Error::InvalidArgument("--log-level: expected debug, info, warn or error");
  }
  for (const auto& pair : f.base_images) {
    auto eq = pair.find('=');
    auto runtime = spec::ParseRuntime(pair.substr(0, eq));
    if (eq == std::string::npos || !runtime) {
      return core::Error::InvalidArgument(
          fmt::format("--base-image {}: expected RUNTIME=IMAGE", pair));
    }
    f.base_image_by_runtime[*runtime] = pair.substr(eq + 1);
  }
  for (const auto& pair : f.labels) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::Error::InvalidArgument(fmt::format("--label {}: expected KEY=VALUE", pair));
    }
    if (pair.substr(0, eq) == core::kInstanceLabel) {
      return core::Error::InvalidArgument(
          fmt::format("--label {}: {} is gantryd's own (the id in <state-dir>/instance-id)", pair,
                      core::kInstanceLabel));
    }
    f.extra_labels[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  for (auto [key, value] : {std::pair{"PIP_INDEX_URL", &f.pip_index_url},
                            std::pair{"PIP_FIND_LINKS", &f.pip_find_links},
                            std::pair{"npm_config_registry", &f.npm_registry}}) {
    if (!value->empty()) f.install_env[key] = *value;
  }
  if (auto bytes = spec::ParseMemory(f.log_max_bytes_per_function); bytes && *bytes > 0) {
    f.log_store.max_bytes_per_function = static_cast<std::size_t>(*bytes);
  } else {
    return core::Error::InvalidArgument(
        "--log-max-bytes-per-function: expected a size such as 4Mi or 512Ki");
  }
  if (auto t = spec::ParseDuration(f.log_max_age); t && t->count() >= 1000) {
    f.log_store.max_age = std::chrono::duration_cast<std::chrono::seconds>(*t);
  } else {
    return core::Error::InvalidArgument(
        "--log-max-age: expected a duration of at least a second such as 24h or 30m");
  }
  for (auto [flag, text, out] :
       {std::tuple{"--async-retry-delay", &f.async_retry_delay, &f.async.retry_delay},
        std::tuple{"--cron-poll", &f.cron_poll, &f.cron_poll_ms}}) {
    auto t = spec::ParseDuration(*text);
    if (!t || t->count() < 10) {
      return core::Error::InvalidArgument(
          fmt::format("{}: expected a duration of at least 10ms such as 1s or 250ms", flag));
    }
    *out = *t;
  }
  if (f.record_max_count < 0) {
    return core::Error::InvalidArgument("--record-max-count: expected 0 or more records");
  }
  // Days too ("7d"), which durations elsewhere don't take.
  std::string_view age = f.record_max_age;
  int64_t days = 0;
  if (auto [end, ec] = std::from_chars(age.data(), age.data() + age.size(), days);
      ec == std::errc() && end + 1 == age.data() + age.size() && *end == 'd' && days >= 0 &&
      days <= 3650) {
    f.record_max_age_ms = std::chrono::hours(24 * days);
  } else if (auto t = spec::ParseDuration(age); t) {
    f.record_max_age_ms = *t;
  } else {
    return core::Error::InvalidArgument(
        "--record-max-age: expected a duration such as 7d, 12h or 30m");
  }
  return core::Ok();
}

}  // namespace gantry::daemon
