// One client session over an in-memory stream (Gateway::ServeInMemory): what a hostile or
// broken client sends — oversize fields and trailers, broken chunk framing — gets a 4xx JSON
// answer and a close, never an exception. No sockets except the test upstream of the invoke
// cases (a unix socket in /tmp).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "gateway/test_upstream.h"

namespace gantry::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Json = nlohmann::json;

// Resolves "echo" to a test upstream; every other name is not found.
class EchoBackend : public InvokeBackend {
 public:
  explicit EchoBackend(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  void Resolve(const std::string& ns, const std::string& name, ResolveCallback done) override {
    if (name != "echo") {
      done(
          core::Error::NotFound("function \"" + name + "\" not found in namespace \"" + ns + "\""));
      return;
    }
    Target t;
    t.unix_socket = socket_path_;
    t.replica = "echo-1";
    t.release = [this](bool failed, const std::string&) {
      ++released;
      if (failed) ++failed_count;
    };
    done(std::move(t));
  }
  int released = 0;
  int failed_count = 0;

 private:
  std::string socket_path_;
};

struct Session {
  Session() {
    GatewayOptions o;
    o.auth_disabled = true;
    o.max_api_body = 1 << 20;
    o.max_invoke_body = 1 << 20;
    std::vector<Route> routes = {Route{"POST", "/echo",
                                       [](const ApiRequest& r) -> core::Result<ApiResponse> {
                                         return ApiResponse{200, "text/plain", r.body, {}};
                                       },
                                       false}};
    gateway = std::make_unique<Gateway>(o, backend, std::move(routes));
  }
  // Every response in what the gateway wrote back, in order.
  std::vector<http::response<http::string_body>> Serve(const std::string& input) {
    std::string out = gateway->ServeInMemory(input);
    std::vector<http::response<http::string_body>> responses;
    beast::flat_buffer buffer;
    auto b = buffer.prepare(out.size());
    buffer.commit(boost::asio::buffer_copy(b, boost::asio::buffer(out)));
    while (buffer.size() > 0) {
      http::response_parser<http::string_body> p;
      p.eager(true);
      beast::error_code ec;
      std::size_t used = p.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec || !p.is_done()) {
        FAIL_CHECK("unparseable answer: " << out);
        break;
      }
      responses.push_back(p.release());
    }
    return responses;
  }

  testing::TestUpstream upstream{true};
  EchoBackend backend{upstream.socket_path()};
  std::unique_ptr<Gateway> gateway;
};

std::string Chunked(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
}

std::string ErrorOf(const http::response<http::string_body>& r) {
  CHECK(r[http::field::content_type] == "application/json");
  return Json::parse(r.body()).at("error").get<std::string>();
}

TEST_CASE("session: a trailer field over 64 KiB is 431, not an exception", "[gateway][limits]") {
  Session s;
  std::string input =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: " +
      std::string(70'000, 't') + "\r\n\r\n";
  auto answers = s.Serve(input);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].result_int() == 431);
  CHECK_THAT(ErrorOf(answers[0]), Catch::Contains("trailers"));
  CHECK_FALSE(answers[0].keep_alive());
}

TEST_CASE("session: limits on fields, trailers and chunk extensions", "[gateway][limits]") {
  struct Case {
    const char* what;
    std::string input;
    int status;
  };
  std::string many_trailers;
  for (int i = 0; i < 2000; ++i)
    many_trailers += "X-T" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  const std::vector<Case> cases = {
      {"one header field over 32 KiB",
       "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(40'000, 'h') + "\r\n\r\n", 431},
      {"a head over 64 KiB",
       "GET /healthz HTTP/1.1\r\nX-A: " + std::string(30'000, 'a') + "\r\nX-B: " +
           std::string(30'000, 'b') + "\r\nX-C: " + std::string(30'000, 'c') + "\r\n\r\n",
       431},
      {"one trailer field over 32 KiB",
       Chunked("/echo", "1\r\na\r\n0\r\nX-T: " + std::string(40'000, 't') + "\r\n\r\n"), 431},
      {"many small trailers over 64 KiB in all",
       Chunked("/echo", "1\r\na\r\n0\r\n" + many_trailers + "\r\n"), 431},
      {"chunk extensions over 4 KiB",
       Chunked("/echo", "1;ext=" + std::string(5000, 'e') + "\r\na\r\n0\r\n\r\n"), 400},
      {"a chunk header line over 64 KiB",
       Chunked("/echo", "1;ext=" + std::string(70'000, 'e') + "\r\na\r\n0\r\n\r\n"), 431},
      {"a chunked body over the limit",
       Chunked("/echo", "100000\r\n" + std::string(0x100000, 'b') + "\r\n1\r\nb\r\n0\r\n\r\n"),
       413},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      Session s;
      auto answers = s.Serve(c.input);
      REQUIRE(answers.size() == 1);
      CHECK(static_cast<int>(answers[0].result_int()) == c.status);
      ErrorOf(answers[0]);
      CHECK_FALSE(answers[0].keep_alive());
    }
  }
}

TEST_CASE("session: trailers within the limits are accepted", "[gateway][limits]") {
  Session s;
  auto answers = s.Serve(Chunked("/echo", "3;a=b\r\nabc\r\n0\r\nX-T: " + std::string(20'000, 't') +
                                              "\r\nX-U: u\r\n\r\n") +
                         "GET /healthz HTTP/1.1\r\n\r\n");
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].result_int() == 200);
  CHECK(answers[0].body() == "abc");
  CHECK(answers[1].result_int() == 200);
}

TEST_CASE("session: broken chunk framing is 400 JSON on management and invoke paths",
          "[gateway][limits]") {
  struct Case {
    const char* what;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"a chunk size that is not hex", "zz\r\nabc\r\n0\r\n\r\n"},
      {"no CRLF after the chunk data", "3\r\nabcXY3\r\nabc\r\n0\r\n\r\n"},
      {"a bare LF after the chunk size", "3\nabc\r\n0\r\n\r\n"},
      {"a chunk size that overflows", "1ffffffffffffffffff\r\na\r\n0\r\n\r\n"},
  };
  for (const char* target : {"/echo", "/function/echo/echo"}) {
    for (const auto& c : cases) {
      SECTION(std::string(target) + ": " + c.what) {
        Session s;
        auto answers = s.Serve(Chunked(target, c.body));
        REQUIRE(answers.size() == 1);
        CHECK(answers[0].result_int() == 400);
        CHECK_THAT(ErrorOf(answers[0]), Catch::StartsWith("bad request: "));
        CHECK_FALSE(answers[0].keep_alive());
        CHECK(s.backend.failed_count == 0);
      }
    }
  }
}

TEST_CASE("session: a malformed request line is 400 and an early end gets no answer",
          "[gateway][limits]") {
  Session s;
  auto bad = s.Serve("GET\r\n\r\n");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].result_int() == 400);
  CHECK(s.Serve("").empty());
  auto partial = s.Serve("GET /healthz HTTP/1.1\r\nHost: x");
  REQUIRE(partial.size() == 1);
  CHECK(partial[0].result_int() == 400);
}

}  // namespace
}  // namespace gantry::gateway
