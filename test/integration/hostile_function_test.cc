// Hostile functions against a real gantryd (CTest label "integration"): functions that
// attack the sandbox from inside — swap their shim's socket for the engine's, fill every
// writable mount, fork without end, eat memory, print 100 MB, take huge bodies — while a
// neighbour function keeps being called. Asserts the sandbox holds (the engine is never
// reached, host disk and gantryd's memory stay bounded, calls complete or fail cleanly)
// and the neighbour never notices. Every container and image carries the test label.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Every hazard is one shell script behind one query word, so one image serves them all;
// each hazard still runs in a function (and so a replica) of its own.
constexpr const char* kHandler = R"SH(#!/bin/sh
case "$Http_Query" in
  swap)
    rm -f /run/gantry/shim.sock
    ln -s /var/run/docker.sock /run/gantry/shim.sock
    echo swapped;;
  disk)
    # How many bytes each writable-looking place takes before it says no.
    for d in /run/gantry /tmp /dev/shm /var/task / /var/gantry /var/gantry/secrets; do
      dd if=/dev/zero of="$d/fill" bs=65536 count=3200 2>/dev/null
      n=$(wc -c < "$d/fill" 2>/dev/null || echo 0)
      rm -f "$d/fill"
      echo "$d $n"
    done
    # The secret's own file is a read-only mount.
    if echo x >> /var/gantry/secrets/disk-key 2>/dev/null; then echo "secret writable"; else echo "secret 0"; fi;;
  bomb)
    i=0
    while [ $i -lt 2000 ]; do sleep 10 >/dev/null 2>&1 & i=$((i+1)); done 2>/dev/null
    echo forked;;
  hog)
    # The function process itself grows (the shell holds the whole output).
    x=$(head -c 400000000 /dev/zero | tr '\0' x)
    echo survived;;
  stdout)
    head -c 100000000 /dev/zero;;
  stderr)
    head -c 100000000 /dev/zero | tr '\0' 'e' | fold -w 200 >&2
    echo printed;;
  body)
    wc -c;;
  *)
    echo "ok $Http_Path";;
esac
)SH";

// A scratch project with the hostile handler; yields one function per name.
class Project {
 public:
  explicit Project(const TestEngine& engine)
      : dir_(fs::temp_directory_path() / engine.Name("hostile")) {
    fs::create_directories(dir_ / "src");
    std::ofstream(dir_ / "src" / "handler.sh") << kHandler;
    fs::permissions(dir_ / "src" / "handler.sh",
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec);
  }
  ~Project() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  spec::FunctionSpec Function(const std::string& ns, const std::string& name,
                              const std::string& extra = "") {
    fs::path manifest = dir_ / (name + ".yaml");
    std::ofstream(manifest) << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: "
                            << name
                            << "\nspec:\n  runtime: exec\n  command: [\"sh\", \"handler.sh\"]\n"
                            << "  source: ./src\n  timeout: 60s\n  concurrency: 4\n"
                            << "  scale: {min: 1, max: 1}\n"
                            << extra;
    return LoadFunctionInto(ns, manifest);
  }

 private:
  fs::path dir_;
};

// Peak resident memory of a process (VmHWM, kB), or -1.
long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The bytes the engine keeps of a container's log on the host (json-file and its rotations).
uintmax_t HostLogBytes(const std::string& id) {
  uintmax_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/var/lib/docker/containers/" + id, ec)) {
    if (entry.path().filename().string().find("-json.log") != std::string::npos)
      total += entry.file_size(ec);
  }
  return total;
}

// Sends `request` raw over TCP to gantryd and returns the status of the answer (0: none).
int RawStatus(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{.tv_sec = 60, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string head;
  char buffer[4096];
  while (head.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    head.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return 0;
  return std::stoi(head.substr(9, 3));
}

class Suite {
 public:
  Suite() : project(engine), state(engine), gantryd(engine, state.path()) {
    ns = engine.value();
    Deploy(gantryd, project.Function(ns, "calm"));
  }

  // The neighbour answers, warm, with what it was sent.
  void NeighbourHolds(const std::string& when) {
    INFO("neighbour after " << when);
    Reply r = gantryd.Call("POST", "/function/calm." + ns + "?body", "ping", {}, false);
    CHECK(r.status == 200);
    CHECK(r.body == "4\n");
    CHECK(gantryd.Call("GET", "/healthz", "", {}, false).status == 200);
  }

  std::string Invoke(const std::string& fn) const { return "/function/" + fn + "." + ns; }

  // The function's one replica, once it serves (a call waits for its start).
  std::string OnlyContainer(const std::string& fn) {
    REQUIRE(gantryd.Call("GET", Invoke(fn) + "/warm", "", {}, false).status == 200);
    auto ids = ContainersOf(engine, fn);
    REQUIRE(ids.size() == 1);
    return *ids.begin();
  }

  TestEngine engine;
  Project project;
  StateDir state;
  Gantryd gantryd;
  std::string ns;
};

TEST_CASE("hostile: a function that swaps its socket for the engine's never hands out the engine",
          "[integration][hostile]") {
  Suite s;
  Deploy(s.gantryd, s.project.Function(s.ns, "swap"));
  Reply swapped = s.gantryd.Call("GET", s.Invoke("swap") + "?swap", "", {}, false);
  REQUIRE(swapped.status == 200);
  REQUIRE(swapped.body == "swapped\n");
  // Calls at once need fresh connections to the replica: each one goes by the socket's
  // path, which now names the engine's socket. None may get the engine's answer.
  std::vector<std::future<Reply>> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      return s.gantryd.Call("GET", s.Invoke("swap") + "/version", "", {}, false);
    }));
  }
  for (auto& call : calls) {
    Reply r = call.get();
    INFO(r.status << " " << r.body);
    CHECK_THAT(r.body, !Catch::Contains("ApiVersion") && !Catch::Contains("KernelVersion"));
    CHECK_FALSE(r.headers.count("api-version"));
    CHECK((r.status == 200 || r.status == 502 || r.status == 503));
  }
  s.NeighbourHolds("the socket swap");
  // The broken replica is replaced: the function serves again (by its own new shim).
  Reply again;
  for (int i = 0; i < 100 && again.body != "ok /again\n"; ++i) {
    again = s.gantryd.Call("GET", s.Invoke("swap") + "/again", "", {}, false);
    if (again.body != "ok /again\n") std::this_thread::sleep_for(100ms);
  }
  CHECK(again.body == "ok /again\n");
}

TEST_CASE("hostile: disk fill through every writable mount is bounded", "[integration][hostile]") {
  Suite s;
  nlohmann::json secret = {{"name", "disk-key"}, {"namespace", s.ns}, {"value", "k3y"}};
  REQUIRE(s.gantryd.Call("POST", "/system/secrets", secret.dump()).status == 201);
  Deploy(s.gantryd, s.project.Function(s.ns, "disk", "  secrets: [disk-key]\n"));
  Reply r = s.gantryd.Call("GET", s.Invoke("disk") + "?disk", "", {}, false);
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::map<std::string, long long> written;
  std::istringstream lines(r.body);
  std::string where;
  long long n = 0;
  while (lines >> where >> n) written[where] = n;
  REQUIRE(written.size() == 8);
  CHECK(written["/run/gantry"] <= (64 << 10));  // the socket dir: a 64 KiB tmpfs
  CHECK(written["/tmp"] <= (64LL << 20));       // memory, not disk, and capped
  CHECK(written["/dev/shm"] <= (64LL << 20));
  CHECK(written["/var/task"] == 0);  // read-only root
  CHECK(written["/"] == 0);
  CHECK(written["/var/gantry"] == 0);
  CHECK(written["/var/gantry/secrets"] == 0);
  CHECK(written["secret"] == 0);
  CHECK(r.body.find("secret writable") == std::string::npos);
  s.NeighbourHolds("the disk fill");
}

TEST_CASE("hostile: a fork bomb and a memory hog stay inside their replica",
          "[integration][hostile]") {
  Suite s;
  Deploy(s.gantryd, s.project.Function(s.ns, "bomb", "  resources: {memory: 64Mi}\n"));
  Deploy(s.gantryd, s.project.Function(s.ns, "hog", "  resources: {memory: 64Mi}\n"));

  auto bomb = std::async(std::launch::async, [&] {
    return s.gantryd.Call("GET", s.Invoke("bomb") + "?bomb", "", {}, false);
  });
  s.NeighbourHolds("the fork bomb started");
  Reply bombed = bomb.get();
  CHECK((bombed.status == 200 || bombed.status == 500 || bombed.status == 504));
  s.NeighbourHolds("the fork bomb");

  std::string hog_id = s.OnlyContainer("hog");
  Reply hogged = s.gantryd.Call("GET", s.Invoke("hog") + "?hog", "", {}, false);
  INFO(hogged.body);
  CHECK(hogged.status == 500);
  CHECK_THAT(hogged.body, Catch::Contains("out of memory"));
  s.NeighbourHolds("the memory hog");
  // One process was OOM-killed, not the replica: its other calls go on, warm. (The engine's
  // oom event comes on its own schedule; give it time to be seen before looking.)
  std::this_thread::sleep_for(1s);
  Reply after = s.gantryd.Call("GET", s.Invoke("hog") + "/after", "", {}, false);
  CHECK(after.status == 200);
  CHECK(after.headers["x-cold-start"] == "false");
  CHECK(ContainersOf(s.engine, "hog") == std::set<std::string>{hog_id});
}

TEST_CASE(
    "hostile: 100 MB of stdout and of stderr keep gantryd's memory and the host's log bounded",
    "[integration][hostile]") {
  Suite s;
  Deploy(s.gantryd, s.project.Function(s.ns, "loud"));
  std::string id = s.OnlyContainer("loud");

  Reply out = s.gantryd.Call("GET", s.Invoke("loud") + "?stdout", "", {}, false);
  CHECK(out.status == 200);
  CHECK(out.body.size() == 100000000u);  // streamed through: the shim never held it all
  out.body.clear();
  out.body.shrink_to_fit();
  s.NeighbourHolds("100 MB of stdout");

  Reply err = s.gantryd.Call("GET", s.Invoke("loud") + "?stderr", "", {}, false);
  CHECK((err.status == 200 || err.status == 504));
  s.NeighbourHolds("100 MB of stderr");
  // json-file rotated at 10 MB, 3 files: never the 100+ MB the function printed.
  uintmax_t logged = 0;
  for (const std::string& c : ContainersOf(s.engine, "loud")) logged += HostLogBytes(c);
  INFO("host log bytes " << logged);
  CHECK(ContainersOf(s.engine, "loud") == std::set<std::string>{id});  // it survived both
  CHECK(logged <= 32u * 1000 * 1000);
  CHECK(logged > 10u * 1000 * 1000);  // it did print: the bound is what held it
  long peak = PeakRssKb(s.gantryd.pid());
  INFO("gantryd peak RSS " << peak << " kB");
  CHECK(peak > 0);
  CHECK(peak < 200 * 1024);
}

TEST_CASE("hostile: an oversize body is a 413 or is served, and the replica survives it",
          "[integration][hostile]") {
  Suite s;
  Deploy(s.gantryd, s.project.Function(s.ns, "body"));
  std::string id = s.OnlyContainer("body");

  // Between the shim's old limit (6 MiB) and the gateway's (64 MiB): the function gets it.
  Reply mid =
      s.gantryd.Call("POST", s.Invoke("body") + "?body", std::string(20 << 20, 'b'), {}, false);
  CHECK(mid.status == 200);
  CHECK(mid.body == std::to_string(20 << 20) + "\n");
  // Over the limit, with a length: 413 before anything reaches the replica.
  Reply over = s.gantryd.Call("POST", s.Invoke("body") + "?body", std::string((64 << 20) + 1, 'b'),
                              {}, false);
  CHECK(over.status == 413);
  // Over the limit, chunked (no length to check up front): 413 as well.
  std::string chunked = "POST " + s.Invoke("body") +
                        "?body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string piece(1 << 20, 'c');
  for (int i = 0; i < 66; ++i) chunked += "100000\r\n" + piece + "\r\n";
  chunked += "0\r\n\r\n";
  CHECK(RawStatus(s.gantryd.port(), chunked) == 413);

  s.NeighbourHolds("the oversize bodies");
  Reply after = s.gantryd.Call("GET", s.Invoke("body") + "/after", "", {}, false);
  CHECK(after.status == 200);
  CHECK(after.headers["x-cold-start"] == "false");
  CHECK(ContainersOf(s.engine, "body") == std::set<std::string>{id});  // never marked dead
}

}  // namespace
}  // namespace gantry::testing
