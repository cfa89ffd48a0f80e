#include "request_meta.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

bool Has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST_CASE("SplitTarget separates path and query", "[shim][cgi]") {
  CHECK(SplitTarget("/a/b?x=1&y=2") == std::pair<std::string, std::string>{"/a/b", "x=1&y=2"});
  CHECK(SplitTarget("/plain") == std::pair<std::string, std::string>{"/plain", ""});
  CHECK(SplitTarget("/q?") == std::pair<std::string, std::string>{"/q", ""});
}

TEST_CASE("CanonicalHeaderName matches Go's form", "[shim][cgi]") {
  CHECK(CanonicalHeaderName("content-type") == "Content-Type");
  CHECK(CanonicalHeaderName("X-CUSTOM-HEADER") == "X-Custom-Header");
  CHECK(CanonicalHeaderName("x-b3-traceid") == "X-B3-Traceid");
}

TEST_CASE("CgiEnvironment uses the OpenFaaS classic watchdog names", "[shim][cgi]") {
  RequestMeta meta;
  meta.method = "POST";
  meta.path = "/fn/sub";
  meta.query = "a=1&b=two";
  meta.headers = {{"content-type", "text/plain"},
                  {"X-Custom-Header", "v1"},
                  {"x-custom-header", "v2"},
                  {"Host", "example"}};
  auto env = CgiEnvironment(meta, 42);
  CHECK(Has(env, "Http_Method=POST"));
  CHECK(Has(env, "Http_Path=/fn/sub"));
  CHECK(Has(env, "Http_Query=a=1&b=two"));
  CHECK(Has(env, "Http_ContentLength=42"));
  CHECK(Has(env, "Http_Content_Type=text/plain"));
  CHECK(Has(env, "Http_X_Custom_Header=v1, v2"));
  CHECK(Has(env, "Http_Host=example"));
  CHECK_FALSE(Has(env, "Http_Content-Type=text/plain"));
}

TEST_CASE("CgiEnvironment drops header values with NUL bytes", "[shim][cgi]") {
  RequestMeta meta;
  meta.method = "GET";
  meta.path = "/";
  meta.headers = {{"X-Bad", std::string("a\0b", 3)}};
  auto env = CgiEnvironment(meta, 0);
  for (const auto& entry : env) CHECK(entry.find("X_Bad") == std::string::npos);
}

TEST_CASE("PercentDecode decodes escapes and keeps malformed ones", "[shim][cgi]") {
  CHECK(PercentDecode("a%20b+c", true) == "a b c");
  CHECK(PercentDecode("a%20b+c", false) == "a b+c");
  CHECK(PercentDecode("100%", true) == "100%");
  CHECK(PercentDecode("%zz%4", true) == "%zz%4");
  CHECK(PercentDecode("%C3%A9", true) == "\xC3\xA9");
}

}  // namespace
}  // namespace gantry::shim
