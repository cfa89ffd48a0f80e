#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "builder/bundle_limits.h"
#include "core/log.h"
#include "core/result.h"
#include "daemon/async_dispatcher.h"
#include "docker/types.h"
#include "gateway/gateway.h"
#include "logstore/log_store.h"
#include "spec/function_spec.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace gantry::daemon {

// gantryd's command line: the flags as given (AddFlags), then what they say once checked
// and converted (ResolveFlags), for main to wire.
struct Flags {
  // As given.
  std::string listen = "127.0.0.1:8080";
  std::string state_dir = "/var/lib/gantry";
  std::string docker_host;
  std::string token_file;  // "": <state_dir>/token
  bool no_auth = false;
  std::string shim;
  std::string bootstrap_dir;
  std::string log_level = "info";
  std::vector<std::string> base_images;  // RUNTIME=IMAGE
  std::vector<std::string> labels;       // KEY=VALUE
  int async_workers = 2;
  AsyncOptions async;
  std::vector<std::string> callback_deny;
  int64_t socket_dir_size = 64 << 10;
  int stem_cells = 1;  // free stem cells per template runtime (python3, node, exec); 0: none
  std::string container_log_max_size = "10m";
  int container_log_max_files = 3;
  gateway::GatewayOptions gateway;  // the front door's limits (the other fields are set by main)
  std::string header_timeout = "10s";
  std::string max_upload = "50Mi";
  std::string max_unpacked = "250Mi";
  std::string pip_index_url;
  std::string pip_find_links;
  std::string npm_registry;
  std::string log_max_bytes_per_function = "4Mi";  // the log store's bounds (logstore/)
  std::string log_max_age = "24h";

  // Set by ResolveFlags.
  builder::BundleLimits bundle_limits;  // --max-upload, --max-unpacked
  core::LogLevel level = core::LogLevel::kInfo;
  std::map<spec::Runtime, std::string> base_image_by_runtime;
  docker::Labels extra_labels;
  std::map<std::string, std::string>
      install_env;  // PIP_INDEX_URL, PIP_FIND_LINKS, npm_config_registry
  // --log-max-bytes-per-function, --log-max-age
  logstore::LogStoreOptions log_store;

  // Invocation records (as given: --records, --record-max-count, --record-max-age; the
  // result size goes to async.max_record_result_bytes).
  bool records = true;
  int64_t record_max_count = 100'000;
  std::string record_max_age = "7d";
  // Set by ResolveFlags.
  std::chrono::milliseconds record_max_age_ms{0};

  // Triggers: --async-retry-delay (async.retry_delay), --cron-poll, and the tests' hidden
  // --test-clock-speed: the cron scheduler's clock runs this many times faster than the
  // wall clock (from a fixed origin, the same in every run), so that a test sees a
  // minute's tick every 1/N of a minute.
  std::string async_retry_delay = "1s";
  std::string cron_poll = "1s";
  int test_clock_speed = 1;
  std::chrono::milliseconds cron_poll_ms{1000};  // set by ResolveFlags
};

// Declares every gantryd flag on `app`, each writing into `flags` (which must outlive the
// parse), with --version.
void AddFlags(CLI::App& app, Flags& flags);

// Checks and converts the parsed flags: sizes, the header timeout, the log level, base
// images, labels, package indexes and the log store's bounds; also raises gateway.max_api_body to
// the bundle's upload limit (the route itself answers 413 with the flag). kInvalidArgument naming
// the flag and what it expects.
core::Status ResolveFlags(Flags& flags);

}  // namespace gantry::daemon
