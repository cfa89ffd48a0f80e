#pragma once

#include <atomic>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gantry::gateway::testing {

// A small blocking HTTP/1.1 server standing in for a function replica, on a unix socket in
// /tmp or on 127.0.0.1:<any port>; one thread per connection. Paths:
//   /echo...             200, body = the request body; X-Seen-* headers report what came in
//   /big?n=N             200, N bytes streamed chunked in 64 KiB pieces ('a' + i % 26)
//   /count               200, "<body length> <sum of bytes mod 2^32> <chunked 0|1>"
//   /sleep?ms=N          200 "slept" after N ms
//   /hold                200 "held" once Release() is called (or the upstream is destroyed)
//   /status?code=N       N, body "status N"; with &close=1 it answers Connection: close
//   /close               reads the request and closes without an answer
//   /head                200 with Content-Length: 42 and no body (answers HEAD)
//   /trailer?n=N         200 chunked "abc", then one trailer field of N bytes
class TestUpstream {
 public:
  // Unix socket (a fresh path in /tmp) when `unix_socket`, TCP on 127.0.0.1 otherwise.
  explicit TestUpstream(bool unix_socket);
  ~TestUpstream();

  const std::string& socket_path() const { return path_; }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  // Waits (a bounded while) until `n` requests have come; false if they did not.
  bool WaitForRequests(int n);
  // Answers the /hold requests, those waiting and those to come.
  void Release();

 private:
  void AcceptLoop();
  void Serve(boost::asio::generic::stream_protocol::socket socket);

  boost::asio::io_context io_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  std::string path_;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> threads_;  // guarded by mu_
  std::vector<int> open_fds_;         // guarded by mu_
  std::condition_variable changed_;   // a request came, or Release()
  bool released_ = false;             // guarded by mu_
};

// A blocking client for the gateway on 127.0.0.1:port, keeping its connection.
class TestClient {
 public:
  explicit TestClient(int port);
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  // Sends `req` (prepare_payload() is called unless it is chunked) and reads the answer;
  // throws on a transport error.
  Response Send(Request req);
  bool open() const { return socket_.is_open(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// One request on a fresh connection.
TestClient::Response Fetch(int port, boost::beast::http::verb method, const std::string& target,
                           const std::string& body = "",
                           const std::map<std::string, std::string>& headers = {});

}  // namespace gantry::gateway::testing
