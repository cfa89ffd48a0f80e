// Functions' network against a real gantryd (CTest label "integration"): gantryd makes a
// bridge network of its own (gantry-<instance id>, labelled, inter-container traffic off);
// a function on it fetches from an HTTP server this test runs on the host side of that
// network (its gateway address: the only non-loopback address this test sends to) and
// resolves a neighbour's name through the engine's DNS, but reaches neither the neighbour
// nor gantryd's API; a `network: none` function reaches and resolves nothing. Every
// container, image and network carries the test label.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "builder/bundle.h"
#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// One exec function answers by query: "get=IP:PORT" fetches / over HTTP (4 s at most),
// "resolve=NAME" asks the resolver.
constexpr const char* kFetch = R"SH(#!/bin/bash
case "$Http_Query" in
  get=*)
    target=${Http_Query#get=}
    # Connected is reached, whatever the answer (a reset after it still counts).
    if out=$(timeout 4 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3; exit 0' \
               "${target%:*}" "${target##*:}" 2>/dev/null); then
      echo "reached: $out"
    else
      echo "unreachable"
    fi;;
  resolve=*)
    getent hosts "${Http_Query#resolve=}" || echo "unresolved";;
  *)
    echo "ok";;
esac
)SH";

// A neighbour listening on TCP 9000 on every address it has; a call proves it listens by
// connecting to its own address on the network.
constexpr const char* kListener = R"PY(import socket
import threading


def _serve():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 9000))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        conn.settimeout(2)
        try:
            conn.recv(1024)
        except OSError:
            pass
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nlistener-here")
        conn.close()


threading.Thread(target=_serve, daemon=True).start()


def main(event, context):
    ip = socket.gethostbyname(socket.gethostname())
    with socket.create_connection((ip, 9000), timeout=3) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = conn.recv(200).decode()
    return {"statusCode": 200, "body": "self " + ip + " " + data}
)PY";

// An HTTP/1.0 server on one address of the host, answering every connection with `reply`
// and counting them.
class HostServer {
 public:
  HostServer(const std::string& address, std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    REQUIRE(::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) == 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~HostServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      char buffer[1024];
      (void)::recv(c, buffer, sizeof buffer, 0);  // the request line; its content is not checked
      std::string answer = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + reply_;
      (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

class Project {
 public:
  explicit Project(const TestEngine& engine)
      : dir_(fs::temp_directory_path() / engine.Name("network")) {
    fs::create_directories(dir_ / "sh");
    fs::create_directories(dir_ / "py");
    std::ofstream(dir_ / "sh" / "handler.sh") << kFetch;
    std::ofstream(dir_ / "py" / "handler.py") << kListener;
  }
  ~Project() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  spec::FunctionSpec Fetch(const std::string& ns, const std::string& name,
                           const std::string& extra = "",
                           const std::string& scale = "{min: 0, max: 1}") {
    return Write(ns, name,
                 "  runtime: exec\n  command: [\"bash\", \"handler.sh\"]\n  source: ./sh\n" + extra,
                 scale);
  }
  spec::FunctionSpec Listener(const std::string& ns, const std::string& name) {
    return Write(ns, name, "  runtime: python3\n  handler: handler.main\n  source: ./py\n",
                 "{min: 0, max: 1}");
  }

 private:
  spec::FunctionSpec Write(const std::string& ns, const std::string& name, const std::string& body,
                           const std::string& scale) {
    fs::path manifest = dir_ / (name + ".yaml");
    std::ofstream(manifest) << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: "
                            << name << "\nspec:\n"
                            << body << "  timeout: 30s\n  scale: " << scale << "\n";
    return LoadFunctionInto(ns, manifest);
  }

  fs::path dir_;
};

TEST_CASE(
    "network: functions reach the host side of gantryd's network, resolve names, and not each "
    "other",
    "[integration][network]") {
  TestEngine engine;
  StateDir state(engine);
  Project project(engine);
  Gantryd gantryd(engine, state.path());
  const std::string ns = engine.value();

  // gantryd made its network at start: a bridge of its own, labelled, neighbours apart.
  const std::string network = "gantry-" + gantryd.InstanceId();
  auto info = engine.client().InspectNetwork(network);
  INFO(gantryd.Log());
  REQUIRE(info.ok());
  CHECK(info->driver == "bridge");
  CHECK(info->labels.at("gantry.instance") == gantryd.InstanceId());
  CHECK(info->labels.at(kTestLabel) == engine.value());
  CHECK(info->options.at("com.docker.network.bridge.enable_icc") == "false");
  REQUIRE(info->gateways.size() == 1);
  const std::string gateway = info->gateways[0];

  HostServer host(gateway, "hello-from-host");
  Deploy(gantryd, project.Fetch(ns, "fetch"));
  Deploy(gantryd, project.Fetch(ns, "sealed", "  network: none\n"));
  Deploy(gantryd, project.Listener(ns, "listener"));
  auto call = [&](const std::string& fn, const std::string& query) {
    Reply r = gantryd.Call("GET", "/function/" + fn + "." + ns + "?" + query, "", {}, false);
    INFO(fn << "?" << query << " -> " << r.status << " " << r.body << "\n" << gantryd.Log());
    REQUIRE(r.status == 200);
    return r.body;
  };
  const std::string target = fmt::format("get={}:{}", gateway, host.port());

  {  // the default network reaches out
    std::string body = call("fetch", target);
    CHECK_THAT(body, Catch::StartsWith("reached:") && Catch::Contains("hello-from-host"));
    CHECK(host.accepted() == 1);
  }

  {  // a neighbour: its name resolves through the engine's DNS, its port is out of reach
    std::string self = call("listener", "");
    CHECK_THAT(self, Catch::Contains("listener-here"));  // it does listen, on its own address
    auto ids = ContainersOf(engine, "listener");
    REQUIRE(ids.size() == 1);
    auto listener = engine.client().InspectContainer(*ids.begin());
    REQUIRE(listener.ok());
    REQUIRE(listener->networks.count(network) == 1);
    const std::string ip = listener->networks.at(network);
    CHECK_THAT(self, Catch::Contains("self " + ip + " "));

    std::string resolved = call("fetch", "resolve=" + listener->name);
    CHECK_THAT(resolved, Catch::StartsWith(ip + " "));  // the engine's DNS (127.0.0.11) knows it
    CHECK(call("fetch", "get=" + ip + ":9000") == "unreachable\n");  // inter-container traffic off
  }

  {  // gantryd's API is not on the network
    CHECK(call("fetch", fmt::format("get={}:{}", gateway, gantryd.port())) == "unreachable\n");
    CHECK(call("fetch", fmt::format("get=127.0.0.1:{}", gantryd.port())) == "unreachable\n");
  }

  {                                       // network none: nothing to reach, nothing to resolve
    CHECK(call("sealed", "") == "ok\n");  // it runs, and answers over its socket
    CHECK(call("sealed", target) == "unreachable\n");
    CHECK(host.accepted() == 1);  // only the fetch function's call above arrived
    CHECK(call("sealed", "resolve=" + network) == "unresolved\n");
    auto ids = ContainersOf(engine, "sealed");
    REQUIRE(ids.size() == 1);
    auto sealed = engine.client().InspectContainer(*ids.begin());
    REQUIRE(sealed.ok());
    CHECK(sealed->network_mode == "none");
    // Resolving the fetch function's name works only from the network, not from here.
    call("fetch", "");
    auto fetch_ids = ContainersOf(engine, "fetch");
    REQUIRE(fetch_ids.size() == 1);
    auto fetch = engine.client().InspectContainer(*fetch_ids.begin());
    REQUIRE(fetch.ok());
    CHECK(call("sealed", "resolve=" + fetch->name) == "unresolved\n");
  }
}

TEST_CASE("network: a restarted gantryd adopts its network and its replicas on it",
          "[integration][network]") {
  TestEngine engine;
  StateDir state(engine);
  Project project(engine);
  const std::string ns = engine.value();
  std::string network_id;
  std::string replica;
  {
    Gantryd first(engine, state.path());
    Deploy(first, project.Fetch(ns, "fetch", "", "{min: 1, max: 1}"));
    Reply r = first.Call("GET", "/function/fetch." + ns, "", {}, false);
    REQUIRE(r.status == 200);
    auto info = engine.client().InspectNetwork("gantry-" + first.InstanceId());
    REQUIRE(info.ok());
    network_id = info->id;
    auto ids = ContainersOf(engine, "fetch");
    REQUIRE(ids.size() == 1);
    replica = *ids.begin();
  }
  Gantryd again(engine, state.path());
  auto info = engine.client().InspectNetwork("gantry-" + again.InstanceId());
  REQUIRE(info.ok());
  CHECK(info->id == network_id);  // the same network, not a new one
  Reply r = again.Call("GET", "/function/fetch." + ns, "", {}, false);
  CHECK(r.status == 200);
  CHECK(r.headers["x-cold-start"] == "false");
  CHECK(ContainersOf(engine, "fetch") == std::set<std::string>{replica});
}

}  // namespace
}  // namespace gantry::testing
