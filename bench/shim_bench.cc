// gantry-bench-shim: requests/s and p50/p99 latency of gantry-shim in each mode, at
// concurrency 1 and 16, called from the host through the shim's unix socket in a
// bind-mounted directory -- each beside a floor measured in the same run:
//   exec         a bare posix_spawn + pipes loop running the same command in the container,
//                and a watchdog-like fork-per-request server (gantry-bench-watchdog: what
//                OpenFaaS's classic watchdog does per request) started in the shim's own
//                container and called by the same client; goal: shim >= 2x it
//   http         the function's own server called directly on the container's loopback
//   runtime-api  the language serving HTTP itself, called directly on the container's
//                loopback: node's http module (fn/server.js), and for python3 the fastest
//                stdlib server (fn/server.py: one process, a selectors loop, keep-alive,
//                a minimal parser); both echo the body as the handlers do; goal: shim >= 0.5x
// The images (built by bench/shim) hold the shim, the function files and the two static
// bench tools. Every container carries gantry.bench=shim-run and is removed at the end.
//   gantry-bench-shim --node-image IMG --python-image IMG [-n REQUESTS] [-t SECONDS]
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/shim_load.h"
#include "docker/curl_docker_client.h"

namespace {

using gantry::bench::LoadOptions;
using gantry::bench::LoadResult;
using gantry::bench::LoadTarget;
using gantry::docker::ContainerSpec;
using gantry::docker::DockerClient;

constexpr const char* kRunLabel = "gantry.bench";
constexpr const char* kRunValue = "shim-run";
constexpr const char* kLoadTool = "/usr/local/bin/gantry-bench-shim-load";
constexpr const char* kSpawnTool = "/usr/local/bin/gantry-bench-shim-spawn-floor";
// Started beside the shim in the exec container: sh starts it, then execs the shim as before.
constexpr const char* kWatchdogBeside =
    "/usr/local/bin/gantry-bench-watchdog /run/gantry/watchdog.sock -- cat 2>/dev/null & "
    "exec /usr/local/bin/gantry-shim";
constexpr double kExecGoal = 2.0;
// Started beside the shim in the python3 runtime-api container: python serving HTTP itself.
constexpr const char* kPythonServerBeside =
    "python3 /fn/server.py 8081 2>/dev/null & exec /usr/local/bin/gantry-shim";
constexpr double kRuntimeApiGoal = 0.5;

constexpr int kRounds = 3;

struct Settings {
  std::string node_image;
  std::string python_image;
  long long requests = 30000;  // per point, over all rounds (exec: a sixth)
  double seconds = 9;          // per point, over all rounds
};

struct Row {
  std::string mode;
  int concurrency = 1;
  LoadResult shim;
  std::optional<LoadResult> floor;
  std::string floor_name;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "gantry-bench-shim: %s\n", message.c_str());
  std::exit(1);
}

// A shim container with its socket directory; removed (both) when it goes.
class ShimRun {
 public:
  // `entrypoint`: instead of the image's (the shim), e.g. a shell that starts more beside it.
  ShimRun(DockerClient& docker, const std::string& image, std::vector<std::string> env,
          std::vector<std::string> entrypoint = {})
      : docker_(docker) {
    char dir_template[] = "/tmp/gantry-bench-shim.XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) Die("mkdtemp failed");
    dir_ = dir_template;
    ::chmod(dir_.c_str(), 0777);
    ContainerSpec spec;
    spec.image = image;
    spec.env = std::move(env);
    spec.entrypoint = std::move(entrypoint);
    spec.env.emplace_back("GANTRY_LISTEN=unix:/run/gantry/shim.sock");
    spec.env.emplace_back("GANTRY_MAX_INFLIGHT=256");
    spec.labels = {{kRunLabel, kRunValue}};
    spec.user = "65534:65534";
    spec.read_only_rootfs = true;
    spec.cap_drop = {"ALL"};
    spec.security_opt = {"no-new-privileges"};
    spec.network_mode = "none";
    spec.mounts.push_back(
        {.type = gantry::docker::Mount::Type::kBind, .source = dir_, .target = "/run/gantry"});
    spec.mounts.push_back({.type = gantry::docker::Mount::Type::kTmpfs, .target = "/tmp"});
    auto id = docker_.CreateContainer(spec);
    if (!id.ok()) Die("create: " + id.error().ToString());
    id_ = *id;
    if (auto started = docker_.StartContainer(id_); !started.ok())
      Die("start: " + started.error().ToString());
  }
  ~ShimRun() {
    (void)docker_.RemoveContainer(id_, {.force = true});
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ShimRun(const ShimRun&) = delete;
  ShimRun& operator=(const ShimRun&) = delete;

  const std::string& id() const { return id_; }
  LoadTarget target(const std::string& socket = "shim.sock") const {
    return LoadTarget{dir_ + "/" + socket, "", 0};
  }

  // Also waits for `socket` beside the shim's when given.
  void WaitReady(const std::string& socket = "") {
    LoadOptions probe;
    probe.method = "GET";
    probe.target = "/_/ready";
    probe.requests = 1;
    probe.max_time = std::chrono::seconds(2);
    for (int i = 0; i < 300; ++i) {
      if (std::filesystem::exists(dir_ + "/shim.sock") &&
          (socket.empty() || std::filesystem::exists(dir_ + "/" + socket)) &&
          gantry::bench::RunLoad(target(), probe).ok == 1)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Die("shim in " + id_.substr(0, 12) + " never got ready");
  }

 private:
  DockerClient& docker_;
  std::string dir_;
  std::string id_;
};

// Runs one of the static bench tools in a container of `image` (sharing the network of
// `network_of` when given) and parses the line it prints.
LoadResult RunTool(DockerClient& docker, const std::string& image, std::vector<std::string> command,
                   const std::string& network_of) {
  ContainerSpec spec;
  spec.image = image;
  spec.entrypoint = {command.front()};
  spec.cmd.assign(command.begin() + 1, command.end());
  spec.labels = {{kRunLabel, kRunValue}};
  spec.user = "65534:65534";
  spec.network_mode = network_of.empty() ? "none" : "container:" + network_of;
  auto id = docker.CreateContainer(spec);
  if (!id.ok()) Die("create tool: " + id.error().ToString());
  if (auto started = docker.StartContainer(*id); !started.ok())
    Die("start tool: " + started.error().ToString());
  auto waited = docker.WaitContainer(*id);
  std::string output;
  (void)docker.Logs(*id, {}, [&](gantry::docker::Stream, std::string_view line) {
    output.append(line);
    output += '\n';
    return true;
  });
  (void)docker.RemoveContainer(*id, {.force = true});
  LoadResult result;
  if (!waited.ok() || !gantry::bench::ParseResult(output, result))
    Die("floor tool failed: " + output);
  return result;
}

LoadResult Measure(const LoadTarget& target, int concurrency, long long requests, double seconds) {
  LoadOptions options;
  options.concurrency = concurrency;
  options.requests = requests;
  options.max_time = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  auto result = gantry::bench::RunLoad(target, options);
  if (result.failed > 0) {
    std::fprintf(stderr, "  %lld failed (first: %s)\n", static_cast<long long>(result.failed),
                 result.first_error.c_str());
  }
  return result;
}

void Warm(const LoadTarget& target) {
  (void)Measure(target, 4, 300, 5);
}

std::vector<std::string> ToolArgs(const char* tool, int concurrency, long long requests,
                                  double seconds) {
  return {tool,
          "-c",
          std::to_string(concurrency),
          "-n",
          std::to_string(requests),
          "-t",
          std::to_string(seconds),
          "--body",
          "hello"};
}

void Print(const std::vector<Row>& rows) {
  std::printf("\n%-22s %4s | %9s %8s %8s | %-30s %9s %8s %8s | %10s\n", "mode", "conc", "shim rps",
              "p50 ms", "p99 ms", "floor", "rps", "p50 ms", "p99 ms", "shim/floor");
  std::printf("%s\n", std::string(133, '-').c_str());
  for (const auto& row : rows) {
    std::printf("%-22s %4d | %9.0f %8.2f %8.2f | ", row.mode.c_str(), row.concurrency, row.shim.rps,
                row.shim.p50_ms, row.shim.p99_ms);
    if (row.floor) {
      std::printf("%-30s %9.0f %8.2f %8.2f | %10.2f\n", row.floor_name.c_str(), row.floor->rps,
                  row.floor->p50_ms, row.floor->p99_ms,
                  row.floor->rps > 0 ? row.shim.rps / row.floor->rps : 0.0);
    } else {
      std::printf("%-30s %9s %8s %8s | %10s\n", row.floor_name.c_str(), "-", "-", "-", "-");
    }
  }
}

}  // namespace

// The round with the median requests/s (ties: the earlier).
LoadResult Median(std::vector<LoadResult> rounds) {
  std::sort(rounds.begin(), rounds.end(),
            [](const LoadResult& a, const LoadResult& b) { return a.rps < b.rps; });
  return rounds[rounds.size() / 2];
}

// Measures shim and floor in alternating rounds, so that load from elsewhere on the machine
// hits both alike, and keeps the median round of each.
Row MeasurePoint(const std::string& mode, int concurrency, const std::string& floor_name,
                 const std::function<LoadResult()>& shim,
                 const std::function<LoadResult()>& floor) {
  std::vector<LoadResult> shim_rounds;
  std::vector<LoadResult> floor_rounds;
  for (int round = 0; round < kRounds; ++round) {
    shim_rounds.push_back(shim());
    if (floor) floor_rounds.push_back(floor());
  }
  Row row{mode, concurrency, Median(shim_rounds), std::nullopt, floor_name};
  if (!floor_rounds.empty()) row.floor = Median(floor_rounds);
  return row;
}

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--node-image") {
      settings.node_image = argv[i + 1];
    } else if (flag == "--python-image") {
      settings.python_image = argv[i + 1];
    } else if (flag == "-n") {
      settings.requests = std::atoll(argv[i + 1]);
    } else if (flag == "-t") {
      settings.seconds = std::atof(argv[i + 1]);
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (settings.node_image.empty() || settings.python_image.empty())
    Die("--node-image and --python-image are required");
  // Per round: a third of the requests and of the time.
  long long requests = std::max(1LL, settings.requests / kRounds);
  long long exec_requests = std::max(1LL, settings.requests / 6 / kRounds);
  double seconds = settings.seconds / kRounds;
  auto client = gantry::docker::CurlDockerClient::Connect();
  if (!client) Die(client.error().ToString());
  DockerClient& docker = **client;
  constexpr int kConcurrencies[] = {1, 16};
  std::vector<Row> rows;

  {
    std::fprintf(stderr,
                 "exec mode (cat), against the spawn floor and a watchdog-like server...\n");
    ShimRun shim(docker, settings.node_image, {"GANTRY_MODE=exec", "GANTRY_COMMAND=cat"},
                 {"/bin/sh", "-c", kWatchdogBeside});
    shim.WaitReady("watchdog.sock");
    Warm(shim.target());
    Warm(shim.target("watchdog.sock"));
    for (int c : kConcurrencies) {
      auto args = ToolArgs(kSpawnTool, c, exec_requests, seconds);
      args.insert(args.end(), {"--", "/bin/cat"});
      // Three-way rounds: shim, floor, watchdog, each round in turn.
      std::vector<LoadResult> watchdog_rounds;
      Row row = MeasurePoint(
          "exec (cat)", c, "posix_spawn+pipes loop",
          [&] { return Measure(shim.target(), c, exec_requests, seconds); },
          [&] {
            auto floor = RunTool(docker, settings.node_image, args, "");
            watchdog_rounds.push_back(
                Measure(shim.target("watchdog.sock"), c, exec_requests, seconds));
            return floor;
          });
      rows.push_back(row);
      Row against = row;
      against.mode = "exec (cat) vs watchdog";
      against.floor_name = "watchdog-like fork per request";
      against.floor = Median(watchdog_rounds);
      rows.push_back(against);
    }
  }
  {
    std::fprintf(stderr, "http mode (node server) and runtime-api mode (node handler)...\n");
    ShimRun http_shim(docker, settings.node_image,
                      {"GANTRY_MODE=http", "GANTRY_COMMAND=node /fn/server.js",
                       "GANTRY_UPSTREAM=127.0.0.1:8080"});
    ShimRun api_shim(docker, settings.node_image,
                     {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=node /fn/bootstrap.js",
                      "GANTRY_HANDLER=handler.main"});
    http_shim.WaitReady();
    api_shim.WaitReady();
    Warm(http_shim.target());
    Warm(api_shim.target());
    for (int c : kConcurrencies) {
      auto args = ToolArgs(kLoadTool, c, requests, seconds);
      args.insert(args.end(), {"--tcp", "127.0.0.1:8080"});
      auto direct = [&] { return RunTool(docker, settings.node_image, args, http_shim.id()); };
      rows.push_back(MeasurePoint(
          "http (node server)", c, "node server, direct",
          [&] { return Measure(http_shim.target(), c, requests, seconds); }, direct));
      rows.push_back(MeasurePoint(
          "runtime-api (node)", c, "node http server, direct",
          [&] { return Measure(api_shim.target(), c, requests, seconds); }, direct));
    }
  }
  {
    std::fprintf(stderr, "runtime-api mode (python3 handler)...\n");
    ShimRun shim(docker, settings.python_image,
                 {"GANTRY_MODE=runtime-api", "GANTRY_COMMAND=python3 /fn/bootstrap.py",
                  "GANTRY_HANDLER=handler.main"},
                 {"/bin/sh", "-c", kPythonServerBeside});
    shim.WaitReady();
    Warm(shim.target());
    auto warm_args = ToolArgs(kLoadTool, 4, 300, 5);
    warm_args.insert(warm_args.end(), {"--tcp", "127.0.0.1:8081"});
    (void)RunTool(docker, settings.python_image, warm_args, shim.id());
    for (int c : kConcurrencies) {
      auto args = ToolArgs(kLoadTool, c, requests, seconds);
      args.insert(args.end(), {"--tcp", "127.0.0.1:8081"});
      rows.push_back(MeasurePoint(
          "runtime-api (python3)", c, "python3 own server, direct",
          [&] { return Measure(shim.target(), c, requests, seconds); },
          [&] { return RunTool(docker, settings.python_image, args, shim.id()); }));
    }
  }
  if (auto left = docker.ListContainers({std::string(kRunLabel) + "=" + kRunValue}, true)) {
    for (const auto& c : *left) (void)docker.RemoveContainer(c.id, {.force = true});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.mode != b.mode ? a.mode < b.mode : a.concurrency < b.concurrency;
  });
  Print(rows);
  std::printf("\n");
  for (const auto& row : rows) {
    if (row.mode != "exec (cat) vs watchdog" || !row.floor || row.floor->rps <= 0) continue;
    double ratio = row.shim.rps / row.floor->rps;
    std::printf(
        "goal: exec through the shim >= %.1fx the watchdog-like baseline at c=%d: %.2fx %s\n",
        kExecGoal, row.concurrency, ratio, ratio >= kExecGoal ? "MET" : "NOT MET");
  }
  for (const auto& row : rows) {
    if (!row.mode.starts_with("runtime-api") || !row.floor || row.floor->rps <= 0) continue;
    double ratio = row.shim.rps / row.floor->rps;
    std::printf(
        "goal: %s through the shim >= %.1fx the language serving HTTP itself at c=%d: "
        "%.2fx %s\n",
        row.mode.c_str(), kRuntimeApiGoal, row.concurrency, ratio,
        ratio >= kRuntimeApiGoal ? "MET" : "NOT MET");
  }
  std::printf(
      "\nrequests of 5 bytes (\"hello\", echoed back); median of %d alternating rounds of shim and "
      "floor,\n"
      "each at most %lld requests (exec: %lld) or %.1f s; shim: from the host through the unix "
      "socket;\n"
      "floors: inside the same image.\n",
      kRounds, requests, exec_requests, seconds);
  return 0;
}
