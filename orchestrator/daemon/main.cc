// gantryd: the controller. Wires the modules together; holds no logic of its own.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "builder/builder.h"
#include "core/identity.h"
#include "core/log.h"
#include "core/version.h"
#include "daemon/async_dispatcher.h"
#include "daemon/controller.h"
#include "daemon/function_logs.h"
#include "daemon/instance_id.h"
#include "daemon/invocation_recorder.h"
#include "daemon/map_api.h"
#include "daemon/openfaas_api.h"
#include "daemon/options.h"
#include "daemon/pool_backend.h"
#include "daemon/pool_metrics.h"
#include "daemon/resource_api.h"
#include "daemon/resource_invocations.h"
#include "daemon/stem_images.h"
#include "daemon/stem_packages.h"
#include "daemon/token.h"
#include "daemon/topics.h"
#include "daemon/trigger_scheduler.h"
#include "docker/curl_docker_client.h"
#include "gateway/gateway.h"
#include "gateway/process_metrics.h"
#include "logstore/log_followers.h"
#include "logstore/log_store.h"
#include "pool/pool.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using namespace gantry;

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

  daemon::Flags f;
  CLI::App app{"gantryd: the Gantry controller (API, invoke gateway, builder, warm pool)",
               "gantryd"};
  daemon::AddFlags(app, f);
  CLI11_PARSE(app, argc, argv);
  if (auto s = daemon::ResolveFlags(f); !s) return Fail(s.error().message());
  core::SetLogLevel(f.level);

  std::error_code ec;
  fs::create_directories(f.state_dir, ec);
  if (ec)
    return Fail(fmt::format("cannot create the state directory {}: {}", f.state_dir, ec.message()));
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
  auto store = store::Store::Open(
      (fs::path(f.state_dir) / "gantry.db").string(),
      {.max_invocations = f.record_max_count, .max_invocation_age = f.record_max_age_ms});
  if (!store) return Fail(store.error().message());
  auto docker = docker::CurlDockerClient::Connect({.docker_host = f.docker_host});
  if (!docker) return Fail(docker.error().message());

  builder::BuilderOptions build_options;
  fs::path exe_dir = ExeDir();
  build_options.templates.shim_path =
      f.shim.empty() ? FirstExisting({exe_dir / "gantry-shim.stripped", exe_dir / "gantry-shim"})
                     : f.shim;
  build_options.templates.bootstrap_dir =
      f.bootstrap_dir.empty()
          ? FirstExisting({exe_dir / "../share/gantry/bootstrap",
                           fs::path(GANTRY_SOURCE_DIR) / "runtime-shim/bootstrap"})
          : f.bootstrap_dir;
  for (const auto& [runtime, image] : f.base_image_by_runtime) {
    build_options.templates.base_images[runtime] = image;
  }
  build_options.templates.install_env = f.install_env;
  build_options.extra_labels = f.extra_labels;
  build_options.instance_id = *instance;
  builder::Builder builder(**docker, build_options);
  docker::LabelSelector identity = builder.IdentitySelector();

  // Function output, kept in memory from every replica's container log (logstore/).
  logstore::LogStore log_store(f.log_store);
  logstore::LogFollowers log_followers(**docker, log_store);
  daemon::FunctionEvents events(**store);  // pool and controller events, to the store
  pool::Pool pool(
      **docker, {.run_dir = (fs::path(f.state_dir) / "run").string(),
                 .extra_labels = f.extra_labels,
                 .instance_id = *instance,
                 .socket_dir_bytes = f.socket_dir_size,
                 .log_max_size = f.container_log_max_size,
                 .log_max_files = f.container_log_max_files,
                 .on_event = [&log_followers, sink = events.Sink()](const pool::PoolEvent& event) {
                   log_followers.OnEvent(event);  // before the container goes
                   sink(event);
                 }});
  // Stem cells: their images built in the background, packages exported per image.
  daemon::StemImages stem_images(builder, pool, f.stem_cells);
  docker::Labels export_labels = f.extra_labels;
  export_labels[core::kInstanceLabel] = *instance;
  daemon::StemPackages stem_packages(**docker, (fs::path(f.state_dir) / "packages").string(),
                                     export_labels);
  auto pool_metrics = std::make_shared<daemon::PoolMetrics>(pool);
  daemon::Controller controller(
      **store, builder, pool, **docker,
      {.state_dir = f.state_dir,
       .on_build = [pool_metrics](std::string_view outcome) { pool_metrics->CountBuild(outcome); },
       .on_delete = [&log_store](const std::string& ns,
                                 const std::string& name) { log_store.Forget(ns, name); },
       .identity = identity,
       .events = &events,
       .attach_stem =
           [&stem_packages, on = f.stem_cells > 0](pool::Deployment& d,
                                                   const nlohmann::json& spec) {
             if (on) stem_packages.Attach(d, spec);
           }});
  if (auto s = controller.Start(); !s) return Fail(s.error().message());
  stem_images.Start();
  // The replicas the pool adopted (their recent output: the store starts empty), then
  // every second any replica whose start event was missed.
  log_followers.FollowAll(pool.List(), /*tail=*/1000);
  std::jthread log_resync = log_followers.ResyncEvery(
      std::chrono::seconds(1), [&pool] { return pool.List(); }, /*tail=*/1000);
  daemon::FunctionLogs function_logs(**store, log_store);

  daemon::PoolBackend backend(pool, {f.state_dir});
  auto callbacks = daemon::CallbackPolicy::FromFlags(f.callback_deny);
  if (!callbacks) return Fail(callbacks.error().message());
  f.async.workers = f.async_workers;
  f.async.callbacks = std::move(*callbacks);
  daemon::AsyncDispatcher async(**store, f.async);
  std::vector<gateway::Route> routes =
      daemon::ResourceRoutes(controller, **docker, function_logs, f.bundle_limits);
  routes.push_back(async.Route());
  for (auto& r : daemon::resource::InvocationRoutes(**store)) routes.push_back(std::move(r));
  core::ScaledClock cron_clock(f.test_clock_speed);
  daemon::TriggerScheduler scheduler(**store,
                                     f.test_clock_speed > 1
                                         ? static_cast<const core::Clock&>(cron_clock)
                                         : core::SystemClock::Instance(),
                                     {.poll = f.cron_poll_ms, .queue = f.async.queue});
  for (auto& r : scheduler.Routes()) routes.push_back(std::move(r));
  daemon::Topics topics(**store,
                        {.queue = f.async.queue, .max_body_bytes = f.async.max_body_bytes});
  if (auto s = topics.Load(); !s) return Fail(s.error().message());
  for (auto& r : topics.Routes()) routes.push_back(std::move(r));
  daemon::MapApi map_api({}, [&pool](const std::string& ns, const std::string& name) {
    auto fn = pool.Describe(ns, name);
    if (!fn) return -1;
    int live = 0;
    for (const auto& r : fn->replicas) live += r.state != "dead" ? 1 : 0;
    return live;
  });
  routes.push_back(map_api.Route());
  for (auto& r : daemon::OpenFaasRoutes(controller, function_logs)) routes.push_back(std::move(r));
  f.gateway.listen = f.listen;
  f.gateway.token = token;
  f.gateway.auth_disabled = f.no_auth;
  auto recorder = std::make_shared<daemon::InvocationRecorder>(**store);
  if (f.records) f.gateway.on_call = recorder->Hook();
  gateway::Gateway gateway(f.gateway, backend, std::move(routes));
  gateway.metrics().Register(pool_metrics);
  controller.CountInvocationsWith([&gateway](const std::string& ns, const std::string& name) {
    return gateway.metrics().Invocations(ns, name);
  });
  gateway.metrics().Register(std::make_shared<gateway::ProcessMetrics>());
  gateway.metrics().TrackFunctions([&pool] {
    std::vector<std::pair<std::string, std::string>> deployed;
    for (const auto& fn : pool.List()) deployed.emplace_back(fn.namespace_name, fn.name);
    return deployed;
  });
  gateway.metrics().Register(recorder);
  recorder->Start();

  if (auto s = gateway.Start(); !s) return Fail(s.error().message());
  std::string host = f.listen.substr(0, f.listen.rfind(':'));
  const std::string gateway_url =
      fmt::format("http://{}:{}", host.empty() ? "127.0.0.1" : host, gateway.port());
  if (auto s = async.Start(gateway_url); !s) return Fail(s.error().message());
  map_api.Start(gateway_url);
  scheduler.Start();  // after the dispatcher: its ticks are queued calls
  core::Log(core::LogLevel::kInfo,
            "gantryd {} listening on {}:{} (state {}, instance {}, engine API {}, auth {})",
            core::kVersion, host.empty() ? "127.0.0.1" : host, gateway.port(), f.state_dir,
            *instance, (*docker)->ApiVersion(), f.no_auth ? "off" : "on: " + f.token_file);
  int sig = 0;
  sigwait(&signals, &sig);
  core::Log(core::LogLevel::kInfo,
            "gantryd: {} received, stopping (replicas keep running for the next start)",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
  scheduler.Stop();
  async.Stop();
  gateway.Stop();
  controller.CountInvocationsWith(nullptr);  // the gateway goes before the controller
  recorder->Stop();  // after the gateway: the last calls' records are written
  pool.Stop();
  events.Stop();
  return 0;
}
