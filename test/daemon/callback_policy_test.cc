#include "daemon/callback_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <catch2/catch.hpp>

namespace gantry::daemon {
namespace {

TEST_CASE("callback policy: networks in CIDR notation", "[daemon][callback]") {
  for (std::string good :
       {"127.0.0.0/8", "10.1.2.3", "0.0.0.0/0", "::1", "fe80::/10", "::/0", "::ffff:0:0/96"}) {
    INFO(good);
    CHECK(ParseCidr(good).ok());
  }
  for (std::string bad : {"", "/8", "127.0.0.0/", "127.0.0.0/33", "::1/129", "10.0.0.0/-1",
                          "10.0.0.0/8x", "localhost", "10.0.0/8", "1.2.3.4/8/9"}) {
    INFO(bad);
    auto r = ParseCidr(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == core::ErrorCode::kInvalidArgument);
  }
  auto net = ParseCidr("192.168.0.0/16");
  REQUIRE(net.ok());
  CallbackPolicy only({*net});
  CHECK(only.DeniedNetwork("192.168.200.1")->value_or("") == "192.168.0.0/16");
  CHECK_FALSE(only.DeniedNetwork("192.169.0.1")->has_value());
  CHECK_FALSE(only.DeniedNetwork("not an address").ok());
}

TEST_CASE("callback policy: loopback, link-local and this host are denied by default",
          "[daemon][callback]") {
  CallbackPolicy policy;
  for (std::string denied :
       {"127.0.0.1", "127.255.1.2", "::1", "::ffff:127.0.0.1", "169.254.169.254", "fe80::1",
        "febf::1", "0.0.0.0", "0.1.2.3", "::", "::ffff:169.254.1.1"}) {
    INFO(denied);
    auto r = policy.DeniedNetwork(denied);
    REQUIRE(r.ok());
    CHECK(r->has_value());
  }
  for (std::string allowed :
       {"10.0.0.1", "8.8.8.8", "128.0.0.1", "169.255.0.1", "2001:db8::1", "fec0::1"}) {
    INFO(allowed);
    CHECK_FALSE(policy.DeniedNetwork(allowed)->has_value());
  }
}

TEST_CASE("callback policy: --callback-deny replaces the defaults, none allows everything",
          "[daemon][callback]") {
  auto none = CallbackPolicy::FromFlags({"none"});
  REQUIRE(none.ok());
  CHECK(none->denied().empty());
  CHECK_FALSE(none->DeniedNetwork("127.0.0.1")->has_value());
  CHECK(none->CheckUrl("http://127.0.0.1:9/done").ok());

  auto own = CallbackPolicy::FromFlags({"10.0.0.0/8", "169.254.0.0/16"});
  REQUIRE(own.ok());
  CHECK(own->DeniedNetwork("10.9.8.7")->has_value());
  CHECK(own->DeniedNetwork("169.254.169.254")->has_value());
  CHECK_FALSE(own->DeniedNetwork("127.0.0.1")->has_value());

  auto bad = CallbackPolicy::FromFlags({"10.0.0.0/8", "nonsense"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(),
             Catch::Contains("--callback-deny") && Catch::Contains("nonsense"));
}

TEST_CASE("callback policy: only http and https URLs, to hosts that are not denied",
          "[daemon][callback]") {
  CallbackPolicy policy;
  for (std::string ok :
       {"http://example.com/done", "https://example.com:8443/a?b=c", "HTTP://Example.com/",
        "http://10.1.2.3/cb", "http://[2001:db8::1]:80/x", "https://user:pw@hooks.example/x"}) {
    INFO(ok);
    CHECK(policy.CheckUrl(ok).ok());
  }
  for (std::string bad :
       {"gopher://127.0.0.1:70/_raw", "gopher://example.com/_x", "file:///etc/passwd",
        "dict://example.com:11211/stat", "ftp://example.com/", "ldap://example.com/",
        "telnet://example.com/", "example.com/done", "//example.com/done", "http://", "",
        "not a url at all", "http://127.0.0.1:8080/system/info", "http://[::1]/",
        "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:8080/", "http://[fe80::1]/"}) {
    INFO(bad);
    auto r = policy.CheckUrl(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == core::ErrorCode::kInvalidArgument);
  }
  CHECK_FALSE(
      policy.CheckUrl("http://example.com/" + std::string(CallbackPolicy::kMaxUrlBytes, 'a')).ok());
}

TEST_CASE("callback policy: socket addresses as curl is about to connect to them",
          "[daemon][callback]") {
  CallbackPolicy policy;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.53", &v4.sin_addr);
  CHECK(policy.DeniedNetwork(reinterpret_cast<const sockaddr*>(&v4)) ==
        std::optional<std::string>("127.0.0.0/8"));
  ::inet_pton(AF_INET, "93.184.216.34", &v4.sin_addr);
  CHECK_FALSE(policy.DeniedNetwork(reinterpret_cast<const sockaddr*>(&v4)).has_value());
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);  // an IPv4-mapped loopback address
  CHECK(policy.DeniedNetwork(reinterpret_cast<const sockaddr*>(&v6)).has_value());
  ::inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
  CHECK_FALSE(policy.DeniedNetwork(reinterpret_cast<const sockaddr*>(&v6)).has_value());
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  CHECK(policy.DeniedNetwork(reinterpret_cast<const sockaddr*>(&un)).has_value());
}

}  // namespace
}  // namespace gantry::daemon
