// gantry-bench-engine-floor: median and p99 of create -> start -> first HTTP answer of a tiny
// container, through Gantry's Engine API client and through raw `curl --unix-socket`
// processes, for host and bridge networking, interleaved in one run so both see the same
// machine. Every container carries the label gantry.bench and is removed after its sample.
//
//   gantry-bench-engine-floor --image gantry-bench/tiny-http:1 [-n 30]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "docker/curl_docker_client.h"
#include "docker/requests.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using gantry::docker::ContainerSpec;
using gantry::docker::DockerClient;

constexpr int kPort = 8080;
constexpr const char* kSocket = "/var/run/docker.sock";

// One GET to addr:port; true when the answer is a 200.
bool Probe(const std::string& ip) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kPort);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    static const char kReq[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(fd, kReq, sizeof kReq - 1) > 0) {
      char buf[256];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      ok = n > 12 && std::strncmp(buf + 9, "200", 3) == 0;
    }
  }
  close(fd);
  return ok;
}

// Polls until the container answers; false after 10 s.
bool WaitForAnswer(const std::string& ip) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (Probe(ip)) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return false;
}

// Runs curl with `args` and returns its stdout.
std::string RunCurl(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"curl", "-sS", "--unix-socket", kSocket};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
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

ContainerSpec SpecFor(const std::string& image, const std::string& network, const std::string& label) {
  return ContainerSpec{.image = image,
                       .cmd = {"/tiny-http", std::to_string(kPort)},
                       .labels = {{"gantry.bench", label}},
                       .network_mode = network};
}

Sample ThroughClient(DockerClient& docker, const ContainerSpec& spec) {
  Sample s;
  auto t0 = Clock::now();
  auto id = docker.CreateContainer(spec);
  if (!id) return s;
  s.id = *id;
  if (!docker.StartContainer(*id).ok()) return s;
  std::string ip = "127.0.0.1";
  if (spec.network_mode != "host") {
    auto info = docker.InspectContainer(*id);
    if (!info) return s;
    ip = info->ip_address;
  }
  s.ok = WaitForAnswer(ip);
  s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return s;
}

Sample ThroughCurl(const std::string& version, const ContainerSpec& spec) {
  Sample s;
  std::string base = "http://docker/v" + version;
  auto t0 = Clock::now();
  std::string created = RunCurl({"-X", "POST", "-H", "Content-Type: application/json", "-d",
                                 gantry::docker::ContainerCreateBody(spec).dump(), base + "/containers/create"});
  auto j = nlohmann::json::parse(created, nullptr, false);
  if (!j.is_object() || !j.contains("Id")) return s;
  s.id = j["Id"].get<std::string>();
  RunCurl({"-X", "POST", base + "/containers/" + s.id + "/start"});
  std::string ip = "127.0.0.1";
  if (spec.network_mode != "host") {
    auto info = nlohmann::json::parse(RunCurl({base + "/containers/" + s.id + "/json"}), nullptr, false);
    if (!info.is_object()) return s;
    ip = info["NetworkSettings"]["IPAddress"].get<std::string>();
  }
  s.ok = WaitForAnswer(ip);
  s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string image;
  int n = 30;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--image" && i + 1 < argc) image = argv[++i];
    else if (a == "-n" && i + 1 < argc) n = std::max(1, std::atoi(argv[++i]));
    else {
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

  const std::vector<std::string> networks = {"host", "bridge"};
  const std::vector<std::string> ways = {"client", "curl"};
  std::map<std::pair<std::string, std::string>, std::vector<double>> times;
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < networks.size() * ways.size(); ++k) {
      // Rotate the order every round so no configuration always goes first.
      std::size_t idx = (k + static_cast<std::size_t>(i)) % (networks.size() * ways.size());
      const std::string& net = networks[idx / ways.size()];
      const std::string& way = ways[idx % ways.size()];
      ContainerSpec spec = SpecFor(image, net, label);
      Sample s = way == "client" ? ThroughClient(docker, spec) : ThroughCurl(docker.ApiVersion(), spec);
      if (!s.id.empty()) (void)docker.RemoveContainer(s.id, {.force = true});
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

  std::printf("engine floor: create -> start -> first HTTP answer, n=%d per row (API %s)\n\n", n,
              docker.ApiVersion().c_str());
  std::printf("%-8s %-26s %10s %10s\n", "network", "through", "median ms", "p99 ms");
  for (const auto& net : networks) {
    for (const auto& way : ways) {
      const auto& v = times[{net, way}];
      std::printf("%-8s %-26s %10.1f %10.1f\n", net.c_str(),
                  way == "client" ? "gantry client (libcurl)" : "raw curl --unix-socket", Percentile(v, 0.5),
                  Percentile(v, 0.99));
    }
  }
  std::printf("\n");
  for (const auto& net : networks) {
    double ratio = Percentile(times[{net, "client"}], 0.5) / Percentile(times[{net, "curl"}], 0.5);
    std::printf("%-8s client / raw curl (median): %.3f\n", net.c_str(), ratio);
  }
  if (failures > 0) std::printf("\n%d sample(s) failed to answer within 10 s and were left out\n", failures);
  return failures > 0 ? 1 : 0;
}
