// http::Send's refusals, which happen before any byte is sent: no server needed. (Exchanges
// with a real server are covered by the async and CLI integration tests.)
#include "http/http.h"

#include <netinet/in.h>

#include <catch2/catch.hpp>

namespace gantry::http {
namespace {

TEST_CASE("http: the address filter sees each address and can refuse it", "[http]") {
  int seen = 0;
  in_port_t port = 0;
  Response r = Send({.url = "http://127.0.0.1:9/x",
                     .connect_timeout = std::chrono::seconds(2),
                     .address_filter = [&](const sockaddr& a) -> std::optional<std::string> {
                       ++seen;
                       if (a.sa_family == AF_INET) {
                         port = ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
                       }
                       return "not there: loopback";
                     }});
  CHECK(seen == 1);
  CHECK(port == 9);
  CHECK(r.status == 0);
  CHECK(r.denied);
  CHECK(r.error == "not there: loopback");
}

TEST_CASE("http: https only when allowed, and no other protocols", "[http]") {
  auto refuse_all = [](const sockaddr&) -> std::optional<std::string> { return "no"; };
  Response https = Send({.url = "https://127.0.0.1:9/", .address_filter = refuse_all});
  CHECK(https.status == 0);
  CHECK_FALSE(https.denied);  // refused before any address was tried
  CHECK_FALSE(https.error.empty());
  Response allowed =
      Send({.url = "https://127.0.0.1:9/", .allow_https = true, .address_filter = refuse_all});
  CHECK(allowed.denied);
  Response file = Send({.url = "file:///etc/passwd", .allow_https = true});
  CHECK(file.status == 0);
  CHECK(file.body.empty());
  CHECK_FALSE(file.error.empty());
}

}  // namespace
}  // namespace gantry::http
