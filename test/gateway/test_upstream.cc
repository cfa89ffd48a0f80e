#include "gateway/test_upstream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <cstdio>
#include <limits>

#include "gateway/url.h"

namespace gantry::gateway::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = net::generic::stream_protocol::socket;

std::atomic<int> g_next_socket{0};

}  // namespace

TestUpstream::TestUpstream(bool unix_socket) : acceptor_(io_) {
  if (unix_socket) {
    path_ = "/tmp/gantry-gw-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(g_next_socket++) + ".sock";
    ::unlink(path_.c_str());
    net::local::stream_protocol::endpoint ep(path_);
    acceptor_.open(net::generic::stream_protocol(AF_UNIX, 0));
    acceptor_.bind(ep);
    acceptor_.listen();
  } else {
    net::ip::tcp::acceptor tcp(io_, {net::ip::make_address("127.0.0.1"), 0});
    port_ = tcp.local_endpoint().port();
    acceptor_.assign(net::generic::stream_protocol(AF_INET, IPPROTO_TCP), tcp.release());
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestUpstream::~TestUpstream() {
  stopping_ = true;
  Release();
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  accept_thread_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  beast::error_code ec;
  acceptor_.close(ec);
  if (!path_.empty()) ::unlink(path_.c_str());
}

bool TestUpstream::WaitForRequests(int n) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return requests_.load() >= n; });
}

void TestUpstream::Release() {
  {
    std::lock_guard lock(mu_);
    released_ = true;
  }
  changed_.notify_all();
}

void TestUpstream::AcceptLoop() {
  while (!stopping_) {
    Socket s(io_);
    beast::error_code ec;
    acceptor_.accept(s, ec);
    if (ec || stopping_) return;
    ++connections_;
    std::lock_guard lock(mu_);
    open_fds_.push_back(s.native_handle());
    threads_.emplace_back([this, sock = std::move(s)]() mutable { Serve(std::move(sock)); });
  }
}

void TestUpstream::Serve(Socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read(socket, buffer, p, ec);
    if (ec) break;
    {
      std::lock_guard lock(mu_);
      ++requests_;
    }
    changed_.notify_all();
    auto& req = p.get();
    auto split = SplitTarget(req.target());
    auto query = ParseQuery(split.query);
    std::string path(split.path);
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(req.keep_alive());
    if (path == "/close") break;
    if (path == "/big") {
      std::size_t n = std::stoul(query["n"]);
      http::response<http::buffer_body> big{http::status::ok, 11};
      big.chunked(true);
      big.set("X-From-Upstream", "big");
      http::response_serializer<http::buffer_body> sr{big};
      http::write_header(socket, sr, ec);
      std::string piece(64 * 1024, 'x');
      std::size_t sent = 0;
      while (!ec && sent < n) {
        std::size_t size = std::min(piece.size(), n - sent);
        for (std::size_t i = 0; i < size; ++i) piece[i] = static_cast<char>('a' + (sent + i) % 26);
        big.body().data = piece.data();
        big.body().size = size;
        big.body().more = true;
        http::write(socket, sr, ec);
        if (ec == http::error::need_buffer) ec = {};
        sent += size;
      }
      big.body().data = nullptr;
      big.body().size = 0;
      big.body().more = false;
      if (!ec) http::write(socket, sr, ec);
      if (ec) break;
      continue;
    }
    if (path == "/trailer") {
      // A chunked answer whose one trailer field is n bytes long (hostile replica).
      std::string raw =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: " +
          std::string(std::stoul(query["n"]), 't') + "\r\n\r\n";
      boost::asio::write(socket, boost::asio::buffer(raw), ec);
      if (ec) break;
      continue;
    }
    if (path == "/head") {
      // The head a GET would have, without the body.
      http::response<http::empty_body> head{http::status::ok, req.version()};
      head.content_length(42);
      head.set("X-Seen-Method", std::string(req.method_string()));
      head.keep_alive(req.keep_alive());
      http::write(socket, head, ec);
      if (ec || !head.keep_alive()) break;
      continue;
    }
    if (path == "/count") {
      std::uint32_t sum = 0;
      for (char c : req.body()) sum += static_cast<unsigned char>(c);
      res.body() = std::to_string(req.body().size()) + " " + std::to_string(sum) + " " +
                   (req.chunked() ? "1" : "0");
    } else if (path == "/sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(query["ms"])));
      res.body() = "slept";
    } else if (path == "/hold") {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return released_; });
      res.body() = "held";
    } else if (path == "/status") {
      res.result(static_cast<unsigned>(std::stoi(query["code"])));
      res.body() = "status " + query["code"];
      if (query.count("close")) res.keep_alive(false);
    } else {
      res.set("X-Seen-Method", std::string(req.method_string()));
      res.set("X-Seen-Target", std::string(req.target()));
      res.set("X-Seen-Call-Id", std::string(req["X-Call-Id"]));
      res.set("X-Seen-Start-Time", std::string(req["X-Start-Time"]));
      res.set("X-Seen-Custom", std::string(req["X-Custom"]));
      res.set("X-Seen-Hop", std::string(req["X-Hop"]));
      res.set("X-Seen-Authorization", std::string(req["Authorization"]));
      res.set("X-Seen-Forwarded-For", std::string(req["X-Forwarded-For"]));
      res.set("X-From-Upstream", "yes");
      res.set("Content-Type", std::string(req["Content-Type"]));
      res.set("X-Upstream-Hop", "drop me");
      res.set(http::field::connection,
              req.keep_alive() ? "X-Upstream-Hop" : "close, X-Upstream-Hop");
      res.body() = req.body();
    }
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) break;
  }
  socket.shutdown(Socket::shutdown_send, ec);
  // Forget the descriptor before it closes: the number may be reused at once.
  std::lock_guard lock(mu_);
  std::erase(open_fds_, socket.native_handle());
}

TestClient::TestClient(int port) : socket_(io_) {
  socket_.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
}

TestClient::Response TestClient::Send(Request req) {
  if (!req.chunked()) req.prepare_payload();
  http::write(socket_, req);
  http::response_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (req.method() == http::verb::head) p.skip(true);
  http::read(socket_, buffer_, p);
  Response res = p.release();
  if (!res.keep_alive()) {
    beast::error_code ec;
    socket_.close(ec);
  }
  return res;
}

TestClient::Response Fetch(int port, http::verb method, const std::string& target,
                           const std::string& body,
                           const std::map<std::string, std::string>& headers) {
  TestClient client(port);
  TestClient::Request req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  return client.Send(std::move(req));
}

}  // namespace gantry::gateway::testing
