// gantry-bench-soak: N minutes of mixed load against a gantryd of its own, printing the
// daemon's RSS, open fds and threads every report interval, then first vs last.
//
// It starts gantryd on 127.0.0.1 (a free port) with a fresh state directory and its own
// --label gantry.bench=soak-<pid>-<time>, deploys an exec `cat` function, and runs at once:
//   - sync invokes, the number of callers cycling through --concurrency each interval;
//   - async calls (about 20/s) whose results come back to a receiver on 127.0.0.1;
//   - bad requests (unknown function, traversal path, gopher callback, junk HTTP, missing
//     token, an over-limit async body): each must get its 4xx (or a clean close);
//   - management GETs (/healthz, /metrics, /system/functions, /system/info, the resource API);
//   - a scale between 1 and 2 replicas every 45 s.
// Everything is loopback. At the end it deletes the function, stops gantryd, removes what
// still carries its label, and the state directory. It stops by itself after --minutes
// (at most 240), or at SIGINT/SIGTERM (still cleaning up).
//
//   gantry-bench-soak --gantryd build/bin/gantryd [--minutes 10] [--report-seconds 30]
//                     [--concurrency 1,4,16]
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "builder/bundle.h"
#include "docker/curl_docker_client.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kNamespace = "soak";
constexpr const char* kFunction = "echo";
constexpr std::size_t kAsyncBodyMax = 6u << 20;  // gantryd's default --async-body-max

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  g_stop = true;
}

struct Reply {
  long status = 0;  // 0: no answer
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One keep-alive HTTP client (a curl easy handle reused): one per thread.
class Client {
 public:
  explicit Client(std::string base, std::string token = "")
      : base_(std::move(base)), token_(std::move(token)), h_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(h_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             std::vector<std::string> headers = {}, bool auth = false) {
    Reply r;
    curl_easy_reset(h_);
    std::string url = base_ + path;
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h_, CURLOPT_PROXY, "");
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST" || method == "PUT") {
      curl_easy_setopt(h_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    if (auth) headers.push_back("Authorization: Bearer " + token_);
    headers.emplace_back("Expect:");
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h_) == CURLE_OK) curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    return r;
  }

 private:
  std::string base_;
  std::string token_;
  CURL* h_;
};

// Requests and the ones that did not get the answer they should have.
struct Counter {
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  void Count(bool ok) {
    ++done;
    if (!ok) ++errors;
  }
};

struct Counters {
  Counter sync, async, bad, manage, scale;
  std::atomic<long> callbacks{0};    // async results delivered to the receiver
  std::atomic<long> callback_ok{0};  // ... with X-Function-Status: 200
};

// What /proc says about gantryd.
struct Sample {
  double seconds = 0;
  long rss_kib = 0;
  long threads = 0;
  long fds = 0;
};

Sample Measure(pid_t pid, double seconds) {
  Sample s{.seconds = seconds};
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stol(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stol(line.substr(8));
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++s.fds;
  }
  return s;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  return bound ? ntohs(addr.sin_port) : 0;
}

// Takes the async results: one HTTP request per connection, answered 200.
class Receiver {
 public:
  explicit Receiver(Counters& counters) : counters_(counters) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::listen(fd_, 64) != 0) {
      std::perror("soak: the callback receiver's socket on 127.0.0.1");
      std::exit(1);
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Receiver() {
    done_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/done"; }

 private:
  void Loop() {
    while (!done_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string request;
      char buf[8192];
      std::size_t want = std::string::npos;
      while (request.size() < want) {
        pollfd in{c, POLLIN, 0};
        if (::poll(&in, 1, 5000) <= 0) break;
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
        auto end = request.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          std::size_t length = 0;
          auto at = request.find("Content-Length: ");
          if (at != std::string::npos && at < end) length = std::stoul(request.substr(at + 16));
          want = end + 4 + length;
        }
      }
      static constexpr char kOk[] =
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, kOk, sizeof kOk - 1);
      ::close(c);
      ++counters_.callbacks;
      if (request.find("X-Function-Status: 200\r\n") != std::string::npos) ++counters_.callback_ok;
    }
  }

  Counters& counters_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Sends `raw` on a fresh connection; true when the answer is a 4xx or the connection is
// closed without one (both are what junk should get), false for anything else.
bool RawExchange(int port, const std::string& raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, raw.data(), raw.size()) == static_cast<ssize_t>(raw.size())) {
    pollfd p{fd, POLLIN, 0};
    char buf[64] = {};
    if (::poll(&p, 1, 10'000) > 0) {
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ok = n == 0 || (n > 9 && std::strncmp(buf, "HTTP/1.1 4", 10) == 0);
    }
  }
  ::close(fd);
  return ok;
}

std::string Mib(long kib) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return out;
}

void Print(const Sample& s, const Counters& c, const char* what = "t=") {
  std::printf(
      "%s%4.0fs  rss=%-10s fds=%-4ld threads=%-3ld  sync=%ld (err %ld)  async=%ld (err %ld, "
      "results %ld, ok %ld)  bad=%ld (wrong %ld)  mgmt=%ld (err %ld)  scale=%ld (err %ld)\n",
      what, s.seconds, Mib(s.rss_kib).c_str(), s.fds, s.threads, c.sync.done.load(),
      c.sync.errors.load(), c.async.done.load(), c.async.errors.load(), c.callbacks.load(),
      c.callback_ok.load(), c.bad.done.load(), c.bad.errors.load(), c.manage.done.load(),
      c.manage.errors.load(), c.scale.done.load(), c.scale.errors.load());
  std::fflush(stdout);
}

struct Options {
  std::string gantryd;
  double minutes = 10;
  int report_seconds = 30;
  std::vector<int> concurrency = {1, 4, 16};
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "gantry-bench-soak: %s\nusage: gantry-bench-soak --gantryd PATH [--minutes N] "
               "[--report-seconds S] [--concurrency 1,4,16]\n",
               why);
  return 2;
}

// Removes every container and image still carrying `label` (KEY=VALUE).
int RemoveLeftovers(const std::string& label) {
  auto docker = gantry::docker::CurlDockerClient::Connect({});
  if (!docker) {
    std::fprintf(stderr, "soak: engine: %s\n", docker.error().message().c_str());
    return 0;
  }
  int removed = 0;
  if (auto list = (*docker)->ListContainers({label}, true); list.ok()) {
    for (const auto& c : *list) {
      if ((*docker)->RemoveContainer(c.id, {.force = true, .volumes = true}).ok()) ++removed;
    }
  }
  if (auto images = (*docker)->ListImages({label}); images.ok()) {
    for (const auto& i : *images) {
      if ((*docker)->RemoveImage(i.id, true).ok()) ++removed;
    }
  }
  return removed;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--gantryd") {
      o.gantryd = value();
    } else if (a == "--minutes") {
      o.minutes = std::atof(value().c_str());
    } else if (a == "--report-seconds") {
      o.report_seconds = std::atoi(value().c_str());
    } else if (a == "--concurrency") {
      o.concurrency.clear();
      std::stringstream list(value());
      for (std::string n; std::getline(list, n, ',');)
        o.concurrency.push_back(std::atoi(n.c_str()));
    } else {
      return Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.gantryd.empty()) return Usage("--gantryd is required");
  if (!(o.minutes > 0 && o.minutes <= 240)) return Usage("--minutes must be in (0, 240]");
  if (o.report_seconds < 1) return Usage("--report-seconds must be at least 1");
  int max_c = 0;
  for (int c : o.concurrency) {
    if (c < 1 || c > 256) return Usage("--concurrency values must be 1 to 256");
    max_c = std::max(max_c, c);
  }
  if (max_c == 0) return Usage("--concurrency is empty");

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  // gantryd of its own: fresh state, its own label, loopback callbacks allowed (the
  // receiver is on 127.0.0.1), its log in the state directory.
  char dir_template[] = "/tmp/gantry-soak-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return Usage("cannot create a state directory");
  fs::path state = dir_template;
  std::string label =
      "gantry.bench=soak-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000);
  int port = FreePort();
  if (port == 0) {
    std::perror("soak: no free port on 127.0.0.1");
    return 1;
  }
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> args = {o.gantryd,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--state-dir",
                                   state.string(),
                                   "--label",
                                   label,
                                   "--callback-deny",
                                   "none",
                                   "--log-level",
                                   "info"};
  std::vector<char*> cargv;
  cargv.reserve(args.size() + 1);
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log_path = (state / "gantryd.log").string();
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  pid_t pid = 0;
  if (posix_spawn(&pid, o.gantryd.c_str(), &actions, nullptr, cargv.data(), environ) != 0) {
    return Usage(("cannot start " + o.gantryd).c_str());
  }
  posix_spawn_file_actions_destroy(&actions);
  std::printf("soak: gantryd pid %d on %s, state %s, label %s, %.1f min, concurrency", pid,
              base.c_str(), state.string().c_str(), label.c_str(), o.minutes);
  for (int c : o.concurrency) std::printf(" %d", c);
  std::printf("\n");

  int rc = 0;
  Counters counters;
  std::vector<Sample> samples;
  bool gantryd_died = false;
  {
    Client setup(base);
    bool up = false;
    for (auto until = Clock::now() + 30s; Clock::now() < until && !g_stop;) {
      if (setup.Call("GET", "/healthz").status == 200) {
        up = true;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    std::string token;
    std::getline(std::ifstream(state / "token"), token);
    Client admin(base, token);
    fs::create_directories(state / "fn");
    std::string yaml =
        std::string("apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: ") + kFunction +
        "\n  namespace: " + kNamespace +
        "\nspec:\n  runtime: exec\n  command: [\"cat\"]\n  concurrency: 16\n"
        "  scale: {min: 1, max: 4}\n";
    gantry::manifest::LocalFileSystem local;
    auto loaded =
        gantry::manifest::LoadManifestText(local, yaml, "soak.yaml", (state / "fn").string(), {});
    std::string fn_path =
        std::string("/apis/gantry/v1/namespaces/") + kNamespace + "/functions/" + kFunction;
    bool deployed = false;
    if (up && loaded.ok() && loaded.objects.size() == 1) {
      auto bundle = gantry::builder::MakeBundle(
          std::get<gantry::spec::FunctionSpec>(loaded.objects[0].object));
      if (bundle.ok()) {
        Reply put = admin.Call("PUT", fn_path, *bundle, {"Content-Type: application/x-tar"}, true);
        deployed = put.status == 201;
        if (!deployed) std::fprintf(stderr, "soak: apply: %ld %s\n", put.status, put.body.c_str());
      }
    }
    const std::string invoke = std::string("/function/") + kFunction + "." + kNamespace;
    if (deployed && setup.Call("POST", invoke, "warm").body != "warm") deployed = false;
    if (!deployed) {
      std::fprintf(stderr, "soak: gantryd did not come up with the function (log: %s)\n",
                   log_path.c_str());
      rc = 1;
      g_stop = true;
    }

    Receiver receiver(counters);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.minutes * 60));
    const auto phase = std::chrono::seconds(o.report_seconds);
    auto running = [&] { return !g_stop && Clock::now() < end; };
    std::atomic<int> active{o.concurrency[0]};
    std::vector<std::thread> threads;

    // Sync callers: caller i runs while the phase's concurrency is above i.
    for (int i = 0; i < max_c && rc == 0; ++i) {
      threads.emplace_back([&, i] {
        Client c(base);
        std::string body = "soak " + std::to_string(i);
        while (running()) {
          if (i >= active) {
            std::this_thread::sleep_for(100ms);
            continue;
          }
          Reply r = c.Call("POST", invoke + "/p?caller=" + std::to_string(i), body);
          counters.sync.Count(r.status == 200 && r.body == body);
        }
      });
    }
    // Async calls, about 20 a second, with results to the receiver.
    threads.emplace_back([&] {
      Client c(base);
      while (running() && rc == 0) {
        Reply r = c.Call(
            "POST", std::string("/async-function/") + kFunction + "." + kNamespace + "/a?x=1%262",
            "async body", {"X-Callback-Url: " + receiver.url()});
        counters.async.Count(r.status == 202);
        std::this_thread::sleep_for(50ms);
      }
    });
    // Bad requests: each must be refused with its 4xx (or, for junk, a clean close).
    threads.emplace_back([&] {
      Client c(base);
      const std::string async = std::string("/async-function/") + kFunction + "." + kNamespace;
      for (long n = 0; running() && rc == 0; ++n) {
        switch (n % 7) {
          case 0:
            counters.bad.Count(c.Call("POST", "/function/nope." + std::string(kNamespace)).status ==
                               404);
            break;
          case 1:
            counters.bad.Count(c.Call("POST", async + "/../../../system/info").status == 400);
            break;
          case 2:
            counters.bad.Count(
                c.Call("POST", async, "x", {"X-Callback-Url: gopher://127.0.0.1:1/_x"}).status ==
                400);
            break;
          case 3:
            counters.bad.Count(RawExchange(port, "BLAH /\x01 nonsense\r\n\r\n"));
            break;
          case 4:
            counters.bad.Count(c.Call("GET", "/system/functions").status == 401);
            break;
          case 5:
            counters.bad.Count(
                c.Call("POST", "/async-function/nope." + std::string(kNamespace)).status == 404);
            break;
          case 6:
            // An over-limit async body now and then (it is 6 MiB).
            if (n % 70 == 6) {
              counters.bad.Count(
                  c.Call("POST", async, std::string(kAsyncBodyMax + 1, 'b')).status == 413);
            }
            break;
        }
        std::this_thread::sleep_for(50ms);
      }
    });
    // Management reads.
    threads.emplace_back([&] {
      Client c(base, token);
      const char* paths[] = {"/healthz", "/metrics", "/system/functions", "/system/info",
                             "/apis/gantry/v1/functions"};
      for (long n = 0; running() && rc == 0; ++n) {
        const char* p = paths[n % 5];
        counters.manage.Count(c.Call("GET", p, "", {}, n % 5 >= 2).status == 200);
        std::this_thread::sleep_for(100ms);
      }
    });
    // Scale between 1 and 2 replicas every 45 s; then the sampler and the phases.
    Client scaler(base, token);
    auto next_scale = start + 45s;
    int replicas = 2;
    auto next_report = start + phase;
    std::size_t phase_index = 0;
    samples.push_back(Measure(pid, 0));
    Print(samples.back(), counters);
    while (running() && rc == 0) {
      std::this_thread::sleep_for(200ms);
      auto now = Clock::now();
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        std::fprintf(stderr, "soak: gantryd exited (log: %s)\n", log_path.c_str());
        gantryd_died = true;
        rc = 1;
        break;
      }
      if (now >= next_scale) {
        Reply r = scaler.Call("PUT", fn_path + "/scale",
                              "{\"replicas\": " + std::to_string(replicas) + "}",
                              {"Content-Type: application/json"}, true);
        counters.scale.Count(r.status == 200);
        replicas = replicas == 2 ? 1 : 2;
        next_scale += 45s;
      }
      if (now >= next_report) {
        samples.push_back(Measure(pid, std::chrono::duration<double>(now - start).count()));
        Print(samples.back(), counters);
        phase_index = (phase_index + 1) % o.concurrency.size();
        active = o.concurrency[phase_index];
        next_report += phase;
      }
    }
    g_stop = true;
    for (auto& t : threads) t.join();
    if (!gantryd_died && deployed) {
      // Let the queue drain (every accepted async call should report back), then measure.
      for (auto until = Clock::now() + 60s;
           Clock::now() < until &&
           counters.callbacks < counters.async.done - counters.async.errors;) {
        std::this_thread::sleep_for(100ms);
      }
      samples.push_back(Measure(pid, std::chrono::duration<double>(Clock::now() - start).count()));
      Print(samples.back(), counters, "end");
      Reply del = admin.Call("DELETE", fn_path, "", {}, true);
      if (del.status != 200)
        std::fprintf(stderr, "soak: delete: %ld %s\n", del.status, del.body.c_str());
    }
  }
  if (!gantryd_died) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  int removed = RemoveLeftovers(label);

  if (samples.size() >= 2) {
    // The first report, after an interval of load, is the baseline: the start has no
    // replica connections, no warm caches and no arenas yet.
    const Sample& a = samples.size() > 2 ? samples[1] : samples.front();
    const Sample& b = samples.back();
    long errors = counters.sync.errors + counters.async.errors + counters.bad.errors +
                  counters.manage.errors + counters.scale.errors;
    long accepted = counters.async.done - counters.async.errors;
    std::printf(
        "\nsummary over %.0f s (start: rss %s, fds %ld, threads %ld; first vs last report):\n",
        b.seconds, Mib(samples.front().rss_kib).c_str(), samples.front().fds,
        samples.front().threads);
    std::printf("  rss      %s -> %s (%+.1f MiB)\n", Mib(a.rss_kib).c_str(), Mib(b.rss_kib).c_str(),
                static_cast<double>(b.rss_kib - a.rss_kib) / 1024.0);
    std::printf("  fds      %ld -> %ld (%+ld)\n", a.fds, b.fds, b.fds - a.fds);
    std::printf("  threads  %ld -> %ld (%+ld)\n", a.threads, b.threads, b.threads - a.threads);
    std::printf(
        "  calls    sync %ld, async %ld accepted / %ld results, bad %ld, mgmt %ld, scale %ld\n",
        counters.sync.done.load(), accepted, counters.callbacks.load(), counters.bad.done.load(),
        counters.manage.done.load(), counters.scale.done.load());
    std::printf("  errors   %ld%s\n", errors,
                counters.callbacks < accepted ? " (and some async results never came back)" : "");
    if (errors > 0 || counters.callbacks < accepted) rc = 1;
  }
  std::printf("  cleanup  %d leftover object(s) removed; state %s %s\n", removed,
              state.string().c_str(), rc == 0 ? "removed" : "kept (see gantryd.log)");
  if (rc == 0) fs::remove_all(state);
  curl_global_cleanup();
  return rc;
}
