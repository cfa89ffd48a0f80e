// gantry-bench-engine-floor: median and p99 of create -> start -> first HTTP answer of a tiny
// container, through Gantry's Engine API client and through raw `curl --unix-socket`
// processes, for host and bridge networking (answer over TCP), and the way replicas run:
// on a gantry network (a bridge with inter-container traffic off, as the pool makes it) or
// with network none, answering on a unix socket in a bind-mounted directory. All rows are
// interleaved in one run so they see the same machine. Every container and the network carry
// the label gantry.bench and are removed after their sample / at the end.
//
//   gantry-bench-engine-floor --image gantry-bench/tiny-http:1 [-n 30]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "docker/curl_docker_client.h"
#include "docker/requests.h"
#include "pool/replica_network.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using gantry::docker::ContainerSpec;
using gantry::docker::DockerClient;

constexpr int kPort = 8080;
constexpr const char* kSocket = "/var/run/docker.sock";

// Where the container answers: a unix socket path on the host, else ip:kPort.
struct Target {
  std::string ip = "127.0.0.1";
  std::string unix_socket;
};

int Connect(const Target& target) {
  if (!target.unix_socket.empty()) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", target.unix_socket.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    close(fd);
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kPort);
  inet_pton(AF_INET, target.ip.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  close(fd);
  return -1;
}

// One GET; true when the answer is a 200.
bool Probe(const Target& target) {
  int fd = Connect(target);
  bool ok = false;
  if (fd >= 0) {
    static constexpr char kReq[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(fd, kReq, sizeof kReq - 1) > 0) {
      char buf[256];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      ok = n > 12 && std::strncmp(buf + 9, "200", 3) == 0;
    }
    close(fd);
  }
  return ok;
}

// Polls until the container answers; false after 10 s.
bool WaitForAnswer(const Target& target) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (Probe(target)) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return false;
}

// Runs curl with `args` and returns its stdout.
std::string RunCurl(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"curl", "-sS", "--unix-socket", kSocket};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(full.size() + 1);
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe(pipefd) != 0) return "";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "curl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  if (rc == 0) waitpid(pid, nullptr, 0);
  return out;
}

struct Sample {
  double ms = 0;
  std::string id;
  bool ok = false;
};

// A row of the table: how the container is networked and how it is reached.
struct Row {
  std::string name;          // "host", "bridge", "gantry", "none"
  std::string network_mode;  // what HostConfig.NetworkMode says
  bool unix_socket = false;  // answers on /run/gantry/shim.sock, like a replica's shim
};

// A fresh host directory for one sample's socket, bind-mounted at /run/gantry.
std::string SocketDir() {
  char dir[] = "/tmp/gantry-engine-floor.XXXXXX";
  if (mkdtemp(dir) == nullptr) return "";
  chmod(dir, 0777);  // the image's user, whoever it is, makes the socket
  return dir;
}

ContainerSpec SpecFor(const std::string& image, const Row& row, const std::string& label,
                      const std::string& dir) {
  ContainerSpec spec{.image = image,
                     .cmd = {"/tiny-http", std::to_string(kPort)},
                     .labels = {{"gantry.bench", label}},
                     .network_mode = row.network_mode};
  if (row.unix_socket) {
    spec.cmd = {"/tiny-http", "/run/gantry/shim.sock"};
    spec.mounts.push_back({.source = dir, .target = "/run/gantry"});
  }
  return spec;
}

Target TargetOf(const ContainerSpec& spec) {
  Target t;
  if (!spec.mounts.empty()) t.unix_socket = spec.mounts[0].source + "/shim.sock";
  return t;
}

Sample ThroughClient(DockerClient& docker, const ContainerSpec& spec) {
  Sample s;
  auto t0 = Clock::now();
  auto id = docker.CreateContainer(spec);
  if (!id) return s;
  s.id = *id;
  if (!docker.StartContainer(*id).ok()) return s;
  Target target = TargetOf(spec);
  if (spec.network_mode != "host" && target.unix_socket.empty()) {
    auto info = docker.InspectContainer(*id);
    if (!info) return s;
    target.ip = info->ip_address;
  }
  s.ok = WaitForAnswer(target);
  s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return s;
}

Sample ThroughCurl(const std::string& version, const ContainerSpec& spec) {
  Sample s;
  std::string base = "http://docker/v" + version;
  auto t0 = Clock::now();
  std::string created =
      RunCurl({"-X", "POST", "-H", "Content-Type: application/json", "-d",
               gantry::docker::ContainerCreateBody(spec).dump(), base + "/containers/create"});
  auto j = nlohmann::json::parse(created, nullptr, false);
  if (!j.is_object() || !j.contains("Id")) return s;
  s.id = j["Id"].get<std::string>();
  RunCurl({"-X", "POST", base + "/containers/" + s.id + "/start"});
  Target target = TargetOf(spec);
  if (spec.network_mode != "host" && target.unix_socket.empty()) {
    auto info =
        nlohmann::json::parse(RunCurl({base + "/containers/" + s.id + "/json"}), nullptr, false);
    if (!info.is_object()) return s;
    target.ip = info["NetworkSettings"]["IPAddress"].get<std::string>();
  }
  s.ok = WaitForAnswer(target);
  s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string image;
  int n = 30;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--image" && i + 1 < argc) {
      image = argv[++i];
    } else if (a == "-n" && i + 1 < argc) {
      n = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: gantry-bench-engine-floor --image IMAGE [-n N]\n");
      return 2;
    }
  }
  if (image.empty()) {
    std::fprintf(stderr, "usage: gantry-bench-engine-floor --image IMAGE [-n N]\n");
    return 2;
  }
  auto client = gantry::docker::CurlDockerClient::Connect();
  if (!client) {
    std::fprintf(stderr, "engine-floor: %s\n", client.error().ToString().c_str());
    return 1;
  }
  DockerClient& docker = **client;
  std::string label = "engine-floor-" + std::to_string(getpid());

  // The replicas' network, made the way the pool makes it.
  const std::string gantry_net = "gantry-bench-" + std::to_string(getpid());
  if (auto s = gantry::pool::EnsureReplicaNetwork(docker, gantry_net, {{"gantry.bench", label}});
      !s) {
    std::fprintf(stderr, "engine-floor: %s\n", s.error().ToString().c_str());
    return 1;
  }
  const std::vector<Row> rows = {{"host", "host", false},
                                 {"bridge", "bridge", false},
                                 {"gantry", gantry_net, true},
                                 {"none", "none", true}};
  const std::vector<std::string> ways = {"client", "curl"};
  std::map<std::pair<std::string, std::string>, std::vector<double>> times;
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < rows.size() * ways.size(); ++k) {
      // Rotate the order every round so no configuration always goes first.
      std::size_t idx = (k + static_cast<std::size_t>(i)) % (rows.size() * ways.size());
      const Row& row = rows[idx / ways.size()];
      const std::string& net = row.name;
      const std::string& way = ways[idx % ways.size()];
      std::string dir = row.unix_socket ? SocketDir() : "";
      ContainerSpec spec = SpecFor(image, row, label, dir);
      Sample s =
          way == "client" ? ThroughClient(docker, spec) : ThroughCurl(docker.ApiVersion(), spec);
      if (!s.id.empty()) (void)docker.RemoveContainer(s.id, {.force = true});
      if (!dir.empty()) {
        unlink((dir + "/shim.sock").c_str());
        rmdir(dir.c_str());
      }
      if (!s.ok) {
        ++failures;
        continue;
      }
      times[{net, way}].push_back(s.ms);
    }
  }
  if (auto left = docker.ListContainers({"gantry.bench=" + label}, true)) {
    for (const auto& c : *left) (void)docker.RemoveContainer(c.id, {.force = true});
  }
  if (auto removed = docker.RemoveNetwork(gantry_net); !removed) {
    std::fprintf(stderr, "engine-floor: %s\n", removed.error().ToString().c_str());
  }

  std::printf("engine floor: create -> start -> first HTTP answer, n=%d per row (API %s)\n\n", n,
              docker.ApiVersion().c_str());
  std::printf(
      "host, bridge: answer over TCP; gantry (the pool's network, ICC off), none: answer on a\n"
      "unix socket in a bind-mounted directory, as a replica's shim does\n\n");
  std::printf("%-8s %-26s %10s %10s\n", "network", "through", "median ms", "p99 ms");
  for (const auto& row : rows) {
    const std::string& net = row.name;
    for (const auto& way : ways) {
      const auto& v = times[{net, way}];
      std::printf("%-8s %-26s %10.1f %10.1f\n", net.c_str(),
                  way == "client" ? "gantry client (libcurl)" : "raw curl --unix-socket",
                  Percentile(v, 0.5), Percentile(v, 0.99));
    }
  }
  std::printf("\n");
  for (const auto& row : rows) {
    const std::string& net = row.name;
    double ratio = Percentile(times[{net, "client"}], 0.5) / Percentile(times[{net, "curl"}], 0.5);
    std::printf("%-8s client / raw curl (median): %.3f\n", net.c_str(), ratio);
  }
  std::printf(
      "gantry network / none (client median): %.3f (+%.1f ms a cold start pays for the network)\n",
      Percentile(times[{"gantry", "client"}], 0.5) / Percentile(times[{"none", "client"}], 0.5),
      Percentile(times[{"gantry", "client"}], 0.5) - Percentile(times[{"none", "client"}], 0.5));
  if (failures > 0)
    std::printf("\n%d sample(s) failed to answer within 10 s and were left out\n", failures);
  return failures > 0 ? 1 : 0;
}
