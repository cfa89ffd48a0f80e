// The shim's HTTP/1.1 listener as the runtime-api bootstraps use it (issue 15): requests
// pipelined in one write on one kept-alive TCP connection are answered in order, a long
// poll parked by the handler is answered whenever the handler gives its answer (on the
// same connection), and a client that closes while its request is parked is noticed.
// A real loopback socket; the client is a plain blocking socket in a thread of its own.
#include "http_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace gantry::shim {
namespace {

namespace http = boost::beast::http;

int Connect(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads until `bytes` holds `count` whole responses (each with a Content-Length) or the
// peer closes.
std::string ReadResponses(int fd, int count) {
  std::string bytes;
  auto complete = [&] {
    std::size_t at = 0;
    for (int i = 0; i < count; ++i) {
      auto head = bytes.find("\r\n\r\n", at);
      if (head == std::string::npos) return false;
      auto length_at = bytes.find("Content-Length: ", at);
      if (length_at == std::string::npos || length_at > head) return false;
      std::size_t length = std::stoul(bytes.substr(length_at + 16));
      if (bytes.size() < head + 4 + length) return false;
      at = head + 4 + length;
    }
    return true;
  };
  char chunk[4096];
  while (!complete()) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    bytes.append(chunk, static_cast<std::size_t>(n));
  }
  return bytes;
}

TEST_CASE("Pipelined requests on one connection are answered in order, a parked one later",
          "[shim][http]") {
  boost::asio::io_context io;
  std::vector<std::string> seen;
  Responder parked;
  HttpListener listener(io, 1024, [&](HttpRequest&& request, Responder respond) {
    seen.emplace_back(request.target());
    if (request.target() == "/next") {
      parked = respond;  // a long poll: answered below, once "the call comes"
      boost::asio::post(io, [&] {
        parked(TextResponse(200, "the call"));
        parked = Responder();
      });
      return;
    }
    respond(TextResponse(202, "accepted"));
  });
  std::string error;
  REQUIRE(listener.Listen(ListenAddress{false, "", "127.0.0.1", 0}, error));

  auto client = std::async(std::launch::async, [port = listener.port()] {
    int fd = Connect(port);
    // The bootstraps' shape: a call's answer and the ask for the next in one write, twice.
    std::string both =
        "POST /answer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /next HTTP/1.1\r\n"
        "Host: x\r\n\r\n";
    std::string out;
    for (int round = 0; round < 2; ++round) {
      (void)::send(fd, both.data(), both.size(), 0);
      out += ReadResponses(fd, 2);
    }
    ::close(fd);
    return out;
  });
  while (client.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    io.run_for(std::chrono::milliseconds(10));
  }
  std::string out = client.get();
  CHECK(seen == std::vector<std::string>{"/answer", "/next", "/answer", "/next"});
  // In order, each kept alive: 202, 200, 202, 200.
  auto first = out.find("HTTP/1.1 202");
  auto second = out.find("HTTP/1.1 200", first);
  auto third = out.find("HTTP/1.1 202", second);
  auto fourth = out.find("HTTP/1.1 200", third);
  CHECK(first == 0);
  CHECK(fourth != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  CHECK(out.substr(out.size() - 8) == "the call");
}

TEST_CASE("A client that closes while its request is parked is noticed", "[shim][http]") {
  boost::asio::io_context io;
  Responder parked;
  bool hung_up = false;
  HttpListener listener(io, 1024, [&](HttpRequest&&, Responder respond) {
    parked = respond;
    respond.client()->OnHangUp([&] { hung_up = true; });
  });
  std::string error;
  REQUIRE(listener.Listen(ListenAddress{false, "", "127.0.0.1", 0}, error));
  auto client = std::async(std::launch::async, [port = listener.port()] {
    int fd = Connect(port);
    std::string next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)::send(fd, next.data(), next.size(), 0);
    return fd;
  });
  int fd = -1;
  for (int i = 0; i < 500 && (fd < 0 || !parked.client()); ++i) {
    io.run_for(std::chrono::milliseconds(10));
    if (fd < 0 && client.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready)
      fd = client.get();
  }
  REQUIRE(parked.client() != nullptr);
  CHECK_FALSE(hung_up);
  ::close(fd);
  for (int i = 0; i < 500 && !hung_up; ++i) io.run_for(std::chrono::milliseconds(10));
  CHECK(hung_up);
  CHECK(parked.client()->HungUp());
}

}  // namespace
}  // namespace gantry::shim
