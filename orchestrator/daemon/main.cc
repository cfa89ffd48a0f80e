// gantryd: the controller. Wires the modules together; holds no logic of its own.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "builder/builder.h"
#include "core/identity.h"
#include "core/log.h"
#include "core/version.h"
#include "daemon/async_dispatcher.h"
#include "daemon/controller.h"
#include "daemon/instance_id.h"
#include "daemon/openfaas_api.h"
#include "daemon/pool_backend.h"
#include "daemon/pool_metrics.h"
#include "daemon/resource_api.h"
#include "daemon/token.h"
#include "docker/curl_docker_client.h"
#include "gateway/gateway.h"
#include "pool/pool.h"
#include "spec/duration.h"
#include "spec/quantity.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using namespace gantry;

struct Flags {
  std::string listen = "127.0.0.1:8080";
  std::string state_dir = "/var/lib/gantry";
  std::string docker_host;
  std::string token_file;
  bool no_auth = false;
  std::string shim;
  std::string bootstrap_dir;
  std::string log_level = "info";
  std::vector<std::string> base_images;
  std::vector<std::string> labels;
  int async_workers = 2;
  daemon::AsyncOptions async;
  std::vector<std::string> callback_deny;
  int64_t socket_dir_size = 64 << 10;
  std::string container_log_max_size = "10m";
  int container_log_max_files = 3;
  gateway::GatewayOptions gateway;  // the front door's limits (the other fields are set below)
  std::string header_timeout = "10s";
  std::string max_upload = "50Mi";
  std::string max_unpacked = "250Mi";
  std::string pip_index_url;
  std::string pip_find_links;
  std::string npm_registry;
};

// The directory holding this executable (for the shim installed beside it).
fs::path ExeDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

std::string FirstExisting(const std::vector<fs::path>& candidates) {
  for (const auto& p : candidates) {
    if (fs::exists(p)) return p.string();
  }
  return candidates.empty() ? "" : candidates.front().string();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "gantryd: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (the pool's and the engine client's start in constructors
  // below): every thread inherits the mask, so SIGTERM/SIGINT reach only the sigwait at
  // the end, and a second one during shutdown is not a default-action exit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Flags f;
  CLI::App app{"gantryd: the Gantry controller (API, invoke gateway, builder, warm pool)", "gantryd"};
  app.set_version_flag("--version", std::string("gantryd ") + std::string(core::kVersion));
  app.add_option("--listen", f.listen, "address of the API and invoke gateway")->capture_default_str();
  app.add_option("--state-dir", f.state_dir, "database, token and replica sockets")->capture_default_str();
  app.add_option("--docker-host", f.docker_host, "engine address (default: $DOCKER_HOST or the local socket)");
  app.add_option("--token-file", f.token_file, "management token file (default: <state-dir>/token)");
  app.add_flag("--no-auth", f.no_auth, "accept management calls without a token (local development only)");
  app.add_option("--shim", f.shim, "the static gantry-shim copied into template images (default: beside gantryd)");
  app.add_option("--bootstrap-dir", f.bootstrap_dir, "runtime bootstraps (python3/, node/)");
  app.add_option("--base-image", f.base_images, "RUNTIME=IMAGE: base image of a template runtime (repeatable)");
  app.add_option("--label", f.labels,
                 "KEY=VALUE put on every container and image gantryd makes; it then adopts or removes only "
                 "containers carrying it, besides its own gantry.instance (repeatable; tests use gantry.test=...)");
  app.add_option("--async-workers", f.async_workers, "threads running queued async calls (0: queue only)")
      ->capture_default_str();
  app.add_option("--async-queue-max", f.async.queue.max_calls, "async calls queued at most, in total (0: no bound)")
      ->capture_default_str();
  app.add_option("--async-queue-max-per-function", f.async.queue.max_calls_per_function,
                 "async calls queued at most for one function (0: only the total bound)")
      ->capture_default_str();
  app.add_option("--async-queue-max-bytes", f.async.queue.max_bytes,
                 "bytes of queued async calls (bodies, headers, paths) at most, in total (0: no bound)")
      ->capture_default_str();
  app.add_option("--async-body-max", f.async.max_body_bytes, "bytes of one async request body at most")
      ->capture_default_str();
  app.add_option("--callback-deny", f.callback_deny,
                 "CIDR async callbacks may not connect to (repeatable; replaces the default 127.0.0.0/8, ::1, "
                 "169.254.0.0/16, fe80::/10, 0.0.0.0/8, ::; 'none': allow every address)");
  app.add_option("--log-level", f.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--socket-dir-size", f.socket_dir_size,
                 "bytes of the tmpfs each replica's socket directory is (needs root; 0: a plain directory, "
                 "unbounded)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--container-log-max-size", f.container_log_max_size,
                 "json-file log of every container rotated at this size (engine syntax: 10m, 512k)")
      ->capture_default_str();
  app.add_option("--container-log-max-files", f.container_log_max_files, "rotated log files kept per container")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-connections", f.gateway.max_connections,
                 "client connections open at once; more are answered 503 and closed")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--header-timeout", f.header_timeout,
                 "a request head must be complete this long after its first byte (e.g. 10s, 500ms)")
      ->capture_default_str();
  app.add_option("--max-api-queue", f.gateway.max_api_queue,
                 "management calls waiting for a worker; more are answered 503")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--max-upload", f.max_upload, "bytes of a function bundle as uploaded by apply (e.g. 50Mi); 413 beyond")
      ->capture_default_str();
  app.add_option("--max-unpacked", f.max_unpacked, "bytes of a function bundle's files once unpacked; 413 beyond")
      ->capture_default_str();
  app.add_option("--pip-index-url", f.pip_index_url, "package index pip installs requirements.txt from (PIP_INDEX_URL)");
  app.add_option("--pip-find-links", f.pip_find_links, "URL of a page of links to packages for pip (PIP_FIND_LINKS)");
  app.add_option("--npm-registry", f.npm_registry, "registry npm installs package.json from (npm_config_registry)");
  CLI11_PARSE(app, argc, argv);

  builder::BundleLimits bundle_limits;
  for (auto [flag, text, out] : {std::tuple{"--max-upload", &f.max_upload, &bundle_limits.max_upload},
                                 std::tuple{"--max-unpacked", &f.max_unpacked, &bundle_limits.max_unpacked}}) {
    auto bytes = spec::ParseMemory(*text);
    if (!bytes || *bytes <= 0) return Fail(fmt::format("{}: expected a size such as 50Mi or 250M", flag));
    *out = static_cast<std::uint64_t>(*bytes);
  }
  // The bundle is the largest management body; the route itself answers 413 with the flag.
  f.gateway.max_api_body = std::max<std::uint64_t>(f.gateway.max_api_body, bundle_limits.max_upload);

  if (auto t = spec::ParseDuration(f.header_timeout); t && t->count() > 0) {
    f.gateway.header_timeout = *t;
  } else {
    return Fail("--header-timeout: expected a positive duration such as 10s or 500ms");
  }
  core::LogLevel level;
  if (!core::ParseLogLevel(f.log_level, &level)) return Fail("--log-level: expected debug, info, warn or error");
  core::SetLogLevel(level);

  std::error_code ec;
  fs::create_directories(f.state_dir, ec);
  if (ec) return Fail(fmt::format("cannot create the state directory {}: {}", f.state_dir, ec.message()));
  ::chmod(f.state_dir.c_str(), 0700);
  if (f.token_file.empty()) f.token_file = (fs::path(f.state_dir) / "token").string();

  auto instance = daemon::LoadOrCreateInstanceId((fs::path(f.state_dir) / "instance-id").string());
  if (!instance) return Fail(instance.error().message());

  std::string token;
  if (!f.no_auth) {
    auto t = daemon::LoadOrCreateToken(f.token_file);
    if (!t) return Fail(t.error().message());
    token = *t;
  }
  auto store = store::Store::Open((fs::path(f.state_dir) / "gantry.db").string());
  if (!store) return Fail(store.error().message());
  auto docker = docker::CurlDockerClient::Connect({.docker_host = f.docker_host});
  if (!docker) return Fail(docker.error().message());

  builder::BuilderOptions build_options;
  fs::path exe_dir = ExeDir();
  build_options.templates.shim_path =
      f.shim.empty() ? FirstExisting({exe_dir / "gantry-shim.stripped", exe_dir / "gantry-shim"}) : f.shim;
  build_options.templates.bootstrap_dir =
      f.bootstrap_dir.empty()
          ? FirstExisting({exe_dir / "../share/gantry/bootstrap", fs::path(GANTRY_SOURCE_DIR) / "runtime-shim/bootstrap"})
          : f.bootstrap_dir;
  for (const auto& pair : f.base_images) {
    auto eq = pair.find('=');
    auto runtime = spec::ParseRuntime(pair.substr(0, eq));
    if (eq == std::string::npos || !runtime) return Fail(fmt::format("--base-image {}: expected RUNTIME=IMAGE", pair));
    build_options.templates.base_images[*runtime] = pair.substr(eq + 1);
  }
  docker::Labels extra_labels;
  for (const auto& pair : f.labels) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) return Fail(fmt::format("--label {}: expected KEY=VALUE", pair));
    if (pair.substr(0, eq) == core::kInstanceLabel) {
      return Fail(fmt::format("--label {}: {} is gantryd's own (the id in <state-dir>/instance-id)", pair,
                              core::kInstanceLabel));
    }
    extra_labels[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  for (auto [key, value] : {std::pair{"PIP_INDEX_URL", &f.pip_index_url}, std::pair{"PIP_FIND_LINKS", &f.pip_find_links},
                             std::pair{"npm_config_registry", &f.npm_registry}}) {
    if (!value->empty()) build_options.templates.install_env[key] = *value;
  }
  build_options.extra_labels = extra_labels;
  build_options.instance_id = *instance;
  builder::Builder builder(**docker, build_options);
  docker::LabelSelector identity = builder.IdentitySelector();

  pool::Pool pool(**docker, {.run_dir = (fs::path(f.state_dir) / "run").string(),
                             .extra_labels = extra_labels,
                             .instance_id = *instance,
                             .socket_dir_bytes = f.socket_dir_size,
                             .log_max_size = f.container_log_max_size,
                             .log_max_files = f.container_log_max_files});
  auto pool_metrics = std::make_shared<daemon::PoolMetrics>(pool);
  daemon::Controller controller(**store, builder, pool, **docker,
                                {.state_dir = f.state_dir,
                                 .on_build = [pool_metrics](std::string_view outcome) { pool_metrics->CountBuild(outcome); },
                                 .identity = identity});
  if (auto s = controller.Start(); !s) return Fail(s.error().message());

  daemon::PoolBackend backend(pool);
  auto callbacks = daemon::CallbackPolicy::FromFlags(f.callback_deny);
  if (!callbacks) return Fail(callbacks.error().message());
  f.async.workers = f.async_workers;
  f.async.callbacks = std::move(*callbacks);
  daemon::AsyncDispatcher async(**store, f.async);
  std::vector<gateway::Route> routes = daemon::ResourceRoutes(controller, **docker, bundle_limits);
  routes.push_back(async.Route());
  for (auto& r : daemon::OpenFaasRoutes(controller)) routes.push_back(std::move(r));
  f.gateway.listen = f.listen;
  f.gateway.token = token;
  f.gateway.auth_disabled = f.no_auth;
  gateway::Gateway gateway(f.gateway, backend, std::move(routes));
  gateway.metrics().Register(pool_metrics);

  if (auto s = gateway.Start(); !s) return Fail(s.error().message());
  std::string host = f.listen.substr(0, f.listen.rfind(':'));
  if (auto s = async.Start(fmt::format("http://{}:{}", host.empty() ? "127.0.0.1" : host, gateway.port())); !s) {
    return Fail(s.error().message());
  }
  core::Log(core::LogLevel::kInfo, "gantryd {} listening on {}:{} (state {}, instance {}, engine API {}, auth {})",
            core::kVersion, host.empty() ? "127.0.0.1" : host, gateway.port(), f.state_dir, *instance,
            (*docker)->ApiVersion(), f.no_auth ? "off" : "on: " + f.token_file);
  int sig = 0;
  sigwait(&signals, &sig);
  core::Log(core::LogLevel::kInfo, "gantryd: {} received, stopping (replicas keep running for the next start)",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
  async.Stop();
  gateway.Stop();
  pool.Stop();
  return 0;
}
