// Hostile and broken HTTP against a real gantryd (CTest label "integration"), over raw
// sockets: malformed request lines, oversize headers, trailers and bodies, broken chunking,
// slowloris, connections over the cap. After each: a 4xx JSON answer or a clean close, and
// gantryd still serves /healthz. gantryd runs with --label (TestEngine), so everything it
// makes is removed by the test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
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

// A raw client connection. Reads give up after 15 s: a bound, not an assertion (gantryd
// answers or closes well before).
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{15, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Raw() { ::close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  // False when the peer has closed (EPIPE, ECONNRESET).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  struct Answer {
    bool closed = false;     // end of stream or reset before any byte of an answer
    bool timed_out = false;  // nothing at all within the read bound
    int status = 0;
    std::string head;
    std::string body;
  };
  // One answer (head + Content-Length body), or how the connection ended instead.
  Answer Read() {
    Answer a;
    std::string in;
    char buf[8192];
    size_t head_end = std::string::npos;
    size_t want = 0;
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = in.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          a.head = in.substr(0, head_end + 4);
          auto cl = Lower(a.head).find("content-length:");
          want = cl == std::string::npos ? 0 : std::stoul(a.head.substr(cl + 15));
          if (a.head.size() > 12) a.status = std::stoi(a.head.substr(9, 3));
        }
      }
      if (head_end != std::string::npos && in.size() >= head_end + 4 + want) {
        a.body = in.substr(head_end + 4, want);
        return a;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        a.timed_out = true;
        return a;
      }
      a.closed = in.empty();
      if (!in.empty()) a.head = in;  // a partial answer: fails the checks below
      return a;
    }
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  int fd_ = -1;
};

// A 4xx JSON answer {"error": ...} with Connection: close, then the close; or a clean close.
void CheckRefused(Raw& raw, const std::string& what, int want_status = 0) {
  INFO(what);
  Raw::Answer a = raw.Read();
  REQUIRE_FALSE(a.timed_out);
  if (a.closed) {
    CHECK(want_status == 0);
    return;
  }
  INFO(a.head << a.body);
  if (want_status != 0) CHECK(a.status == want_status);
  CHECK(a.status >= 400);
  CHECK(a.status < 500);
  auto body = nlohmann::json::parse(a.body, nullptr, false);
  CHECK(body.contains("error"));
  CHECK_THAT(a.head, Catch::Contains("onnection: close"));
  Raw::Answer after = raw.Read();
  CHECK(after.closed);
}

void CheckServes(const Gantryd& g) {
  Reply r = g.Call("GET", "/healthz", "", {}, false);
  CHECK(r.status == 200);
}

std::string Chunked(const std::string& target, const std::string& body,
                    const std::string& method = "POST") {
  return method + " " + target + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         body;
}

// The management path with a body that is read: GET /healthz needs no token and takes one.
std::string ChunkedHealthz(const std::string& body) {
  return Chunked("/healthz", body, "GET");
}

std::string ManyTrailers(size_t bytes) {
  std::string t;
  for (int i = 0; t.size() < bytes; ++i)
    t += "X-T" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
  return t;
}

TEST_CASE("bad http: malformed, oversize and broken requests get a 4xx JSON or a close",
          "[integration][bad_http]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  struct Case {
    std::string what;
    std::string bytes;
    int status;  // 0: any 4xx JSON, or a clean close
    bool shutdown = false;
  };
  const std::vector<Case> cases = {
      {"garbage request line", "GARBAGE\r\n\r\n", 400},
      {"no target", "GET  HTTP/1.1\r\n\r\n", 400},
      {"unknown version", "GET /healthz HTTP/9.9\r\n\r\n", 400},
      {"binary junk", std::string("\x00\x01\x02\xff\r\n\r\n", 8), 400},
      {"header without colon", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", 400},
      {"a head cut short", "GET /healthz HTTP/1.1\r\nHost: x", 0, true},
      {"a 100 KB header field",
       "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(100'000, 'h') + "\r\n\r\n", 431},
      {"a 70,000-byte trailer field (issue 10's abort)",
       "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: " +
           std::string(70'000, 't') + "\r\n\r\n",
       431},
      {"200 KB of small trailers",
       ChunkedHealthz("3\r\nabc\r\n0\r\n" + ManyTrailers(200'000) + "\r\n"), 431},
      {"a 70 KB chunk extension",
       ChunkedHealthz("3;x=" + std::string(70'000, 'e') + "\r\nabc\r\n0\r\n\r\n"), 431},
      {"a management body over the 50 MiB upload limit",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n", 413},
      {"an invoke body over 64 MiB",
       "POST /function/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", 413},
      {"a chunk size that is not hex", ChunkedHealthz("zz\r\nabc\r\n0\r\n\r\n"), 400},
      {"no CRLF after chunk data", ChunkedHealthz("3\r\nabcXY0\r\n\r\n"), 400},
      {"both Content-Length and chunked",
       "GET /healthz HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: "
       "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       400},
  };
  for (const auto& c : cases) {
    Raw raw(gantryd.port());
    raw.Send(c.bytes);
    if (c.shutdown) raw.ShutdownWrite();
    CheckRefused(raw, c.what, c.status);
    CheckServes(gantryd);
  }
  INFO(gantryd.Log());
  CHECK_THAT(gantryd.Log(), !Catch::Contains("terminate called"));
}

TEST_CASE("bad http: slowloris is cut off after --header-timeout, an idle keep-alive is not",
          "[integration][bad_http]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path(), {"--header-timeout", "500ms"});
  {
    // One byte every 50 ms: the head would take ~2 s; gantryd closes it after 0.5 s.
    Raw raw(gantryd.port());
    std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n";
    bool sent_all = true;
    for (char ch : head) {
      if (!raw.Send(std::string_view(&ch, 1))) {
        sent_all = false;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    Raw::Answer a = raw.Read();
    INFO("sent all: " << sent_all << ", answer: " << a.head);
    CHECK(a.closed);  // no answer to a head that took too long: closed
  }
  CheckServes(gantryd);
  {
    // Idle longer than the header timeout before the first byte: still served.
    Raw raw(gantryd.port());
    std::this_thread::sleep_for(1200ms);
    REQUIRE(raw.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    Raw::Answer a = raw.Read();
    CHECK(a.status == 200);
  }
}

TEST_CASE("bad http: connections over --max-connections get 503 JSON and a close",
          "[integration][bad_http]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path(), {"--max-connections", "32"});
  std::vector<std::unique_ptr<Raw>> held;
  // Each held connection is a session once it has been answered once.
  for (int i = 0; i < 32; ++i) {
    auto raw = std::make_unique<Raw>(gantryd.port());
    REQUIRE(raw->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    Raw::Answer a = raw->Read();
    REQUIRE(a.status == 200);
    held.push_back(std::move(raw));
  }
  for (int i = 0; i < 20; ++i) {
    Raw extra(gantryd.port());
    Raw::Answer a = extra.Read();
    REQUIRE_FALSE(a.timed_out);
    CHECK(a.status == 503);
    CHECK_THAT(a.body, Catch::Contains("too many connections"));
    CHECK(extra.Read().closed);
  }
  held.clear();
  // Their sessions see the close and free their places.
  Reply r;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until;) {
    r = gantryd.Call("GET", "/healthz", "", {}, false);
    if (r.status == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(r.status == 200);
}

TEST_CASE("bad http: broken chunking and oversize bodies on the invoke path, the replica survives",
          "[integration][bad_http]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  fs::path src = state.path() / "fn";
  fs::create_directories(src);
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: cat\nspec:\n"
         "  runtime: exec\n  command: [\"cat\"]\n  scale: {min: 1, max: 2}\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  auto bundle = builder::MakeBundle(fn);
  REQUIRE(bundle.ok());
  Reply created = gantryd.Call(
      "PUT", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions/cat", *bundle);
  INFO(gantryd.Log());
  REQUIRE(created.status == 201);
  std::string invoke = "/function/cat." + engine.value();
  REQUIRE(gantryd.Call("POST", invoke, "warm", {}, false).body == "warm");
  std::set<std::string> replicas = ContainersOf(engine, "cat");
  REQUIRE(replicas.size() == 1);

  const std::vector<std::pair<std::string, std::string>> broken = {
      {"chunk size not hex", "zz\r\nabc\r\n0\r\n\r\n"},
      {"no CRLF after chunk data", "3\r\nabcXY0\r\n\r\n"},
      {"a 70,000-byte trailer field",
       "3\r\nabc\r\n0\r\nX-T: " + std::string(70'000, 't') + "\r\n\r\n"},
      {"200 KB of small trailers", "3\r\nabc\r\n0\r\n" + ManyTrailers(200'000) + "\r\n"},
  };
  for (const auto& [what, body] : broken) {
    Raw raw(gantryd.port());
    raw.Send(Chunked(invoke, body));
    CheckRefused(raw, what, 0);
    CheckServes(gantryd);
  }
  // Bodies over the shim's own limit but within the gateway's: whatever the answer (curl
  // may even see the close before it has sent everything), the caller must not have
  // killed the replica.
  for (int i = 0; i < 5; ++i) {
    Reply big = gantryd.Call("POST", invoke, std::string(10 << 20, 'b'), {}, false);
    UNSCOPED_INFO("10 MiB body: " << big.status);
  }
  Reply after = gantryd.Call("POST", invoke, "still", {}, false);
  CHECK(after.status == 200);
  CHECK(after.body == "still");
  CHECK(after.headers["x-cold-start"] == "false");
  CHECK(ContainersOf(engine, "cat") == replicas);
  CHECK(gantryd.Call("DELETE", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions/cat")
            .status == 200);
}

}  // namespace
}  // namespace gantry::testing
