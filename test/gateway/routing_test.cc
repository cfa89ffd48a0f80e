#include <catch2/catch.hpp>

#include "gateway/error_mapping.h"
#include "gateway/invoke_path.h"
#include "gateway/route_table.h"
#include "gateway/url.h"

namespace gantry::gateway {
namespace {

ApiHandler Nop() {
  return [](const ApiRequest&) -> core::Result<ApiResponse> { return ApiResponse{}; };
}

RouteTable Table() {
  return RouteTable({
      {"GET", "/system/functions", Nop(), true},
      {"POST", "/system/functions", Nop(), true},
      {"GET", "/system/function/{name}", Nop(), true},
      {"PUT", "/apis/gantry/v1/namespaces/{ns}/functions/{name}", Nop(), true},
      {"GET", "/apis/gantry/v1/namespaces/{ns}/functions/{name}", Nop(), true},
      {"*", "/any/{x}", Nop(), false},
      {"GET", "/files/{path...}", Nop(), false},
  });
}

TEST_CASE("gateway: routes match by method and pattern", "[gateway][routing]") {
  RouteTable t = Table();
  struct Case {
    std::string method, path;
    RouteTable::Match::Kind kind;
    std::string pattern;
    std::map<std::string, std::string> params;
    std::string allow;
  };
  using K = RouteTable::Match;
  std::vector<Case> cases = {
      {"GET", "/system/functions", K::kFound, "/system/functions", {}, ""},
      {"POST", "/system/functions", K::kFound, "/system/functions", {}, ""},
      {"DELETE", "/system/functions", K::kMethodNotAllowed, "", {}, "GET, POST"},
      {"GET",
       "/system/function/echo",
       K::kFound,
       "/system/function/{name}",
       {{"name", "echo"}},
       ""},
      {"GET", "/system/function/", K::kNotFound, "", {}, ""},  // a param is never empty
      {"GET", "/system/function/a/b", K::kNotFound, "", {}, ""},
      {"GET",
       "/system/function/a%2Eb",
       K::kFound,
       "/system/function/{name}",
       {{"name", "a.b"}},
       ""},
      {"GET", "/system/function/a%zz", K::kNotFound, "", {}, ""},
      {"PUT",
       "/apis/gantry/v1/namespaces/team/functions/echo",
       K::kFound,
       "/apis/gantry/v1/namespaces/{ns}/functions/{name}",
       {{"ns", "team"}, {"name", "echo"}},
       ""},
      {"DELETE",
       "/apis/gantry/v1/namespaces/team/functions/echo",
       K::kMethodNotAllowed,
       "",
       {},
       "PUT, GET"},
      {"PATCH", "/any/thing", K::kFound, "/any/{x}", {{"x", "thing"}}, ""},
      {"GET", "/files/a/b/c", K::kFound, "/files/{path...}", {{"path", "a/b/c"}}, ""},
      {"GET", "/files", K::kFound, "/files/{path...}", {{"path", ""}}, ""},
      {"GET", "/nothing", K::kNotFound, "", {}, ""},
      {"GET", "/", K::kNotFound, "", {}, ""},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.path);
    auto m = t.Find(c.method, c.path);
    CHECK(m.kind == c.kind);
    if (c.kind == K::kFound) {
      REQUIRE(m.route != nullptr);
      CHECK(m.route->pattern == c.pattern);
      CHECK(m.params == c.params);
    }
    CHECK(m.allow == c.allow);
  }
}

TEST_CASE("gateway: the first matching route wins", "[gateway][routing]") {
  int hit = 0;
  RouteTable t({
      {"GET", "/system/functions/special",
       [&](const ApiRequest&) -> core::Result<ApiResponse> {
         hit = 1;
         return ApiResponse{};
       },
       true},
      {"GET", "/system/functions/{name}",
       [&](const ApiRequest&) -> core::Result<ApiResponse> {
         hit = 2;
         return ApiResponse{};
       },
       true},
  });
  auto m = t.Find("GET", "/system/functions/special");
  REQUIRE(m.kind == RouteTable::Match::kFound);
  (void)m.route->handler(ApiRequest{});
  CHECK(hit == 1);
  m = t.Find("GET", "/system/functions/other");
  REQUIRE(m.kind == RouteTable::Match::kFound);
  (void)m.route->handler(ApiRequest{});
  CHECK(hit == 2);
}

TEST_CASE("gateway: invoke paths name a function, a namespace and the rest", "[gateway][routing]") {
  struct Case {
    std::string target, name, ns, path;
  };
  std::vector<Case> cases = {
      {"/function/echo", "echo", "default", "/"},
      {"/function/echo/", "echo", "default", "/"},
      {"/function/echo.team-a", "echo", "team-a", "/"},
      {"/function/echo.team-a/x/y", "echo", "team-a", "/x/y"},
      {"/function/echo?a=1&b=2", "echo", "default", "/?a=1&b=2"},
      {"/function/echo.ns/p?q=%20", "echo", "ns", "/p?q=%20"},
      {"/function/echo/a.b/c", "echo", "default", "/a.b/c"},
      {"/function/echo.ns.more", "echo", "ns.more", "/"},
  };
  for (const auto& c : cases) {
    INFO(c.target);
    auto r = ParseInvokePath(c.target);
    REQUIRE(r.ok());
    CHECK(r->name == c.name);
    CHECK(r->ns == c.ns);
    CHECK(r->path == c.path);
  }
  for (std::string bad : {"/function/echo.", "/function/e%41cho", "/functions/echo"}) {
    INFO(bad);
    auto r = ParseInvokePath(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == core::ErrorCode::kInvalidArgument);
  }
  // No name at all: not found (the gateway's 404, as OpenFaaS's).
  for (std::string missing : {"/function/", "/function/.ns", "/function/?x"}) {
    INFO(missing);
    auto r = ParseInvokePath(missing);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == core::ErrorCode::kNotFound);
  }
}

TEST_CASE("gateway: one invoke-path parser for sync and async targets", "[gateway][routing]") {
  auto sync = ParseInvokePath("/function/echo.ns/p?a=x%26y&b=%2F..");
  REQUIRE(sync.ok());
  auto async = ParseInvokePath("/async-function/echo.ns/p?a=x%26y&b=%2F..", kAsyncInvokePrefix);
  REQUIRE(async.ok());
  CHECK(async->name == "echo");
  CHECK(async->ns == "ns");
  // The query is kept as sent: not decoded, so "%26" stays one value's '&'.
  CHECK(async->path == "/p?a=x%26y&b=%2F..");
  CHECK(async->path == sync->path);
  CHECK(ParseInvokePath("/async-function/echo", kAsyncInvokePrefix)->path == "/");
  CHECK_FALSE(ParseInvokePath("/function/echo", kAsyncInvokePrefix).ok());
  CHECK_FALSE(ParseInvokePath("/async-function/echo").ok());
}

TEST_CASE("gateway: invoke paths with dot segments or escaped slashes are refused",
          "[gateway][routing]") {
  for (std::string prefix : {"/function/", "/async-function/"}) {
    for (std::string rest : {"echo/../../../system/info", "echo/..", "echo/./x", "echo/a/../b",
                             "echo/%2e%2E/system/info", "echo/.%2e/x", "echo/%2E", "echo/a%2fb",
                             "echo/a%2F..%2Fb", "echo/a%5cb", "echo.ns/x/../y?q=1"}) {
      INFO(prefix + rest);
      auto r = ParseInvokePath(prefix + rest, prefix);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code() == core::ErrorCode::kInvalidArgument);
    }
    // Dots inside a segment, and in the query, are ordinary characters.
    for (std::string rest : {"echo/a.b/c..d/...", "echo/x?p=../../y", "echo/.well-known/x"}) {
      INFO(prefix + rest);
      CHECK(ParseInvokePath(prefix + rest, prefix).ok());
    }
  }
}

TEST_CASE("gateway: percent decoding and query strings", "[gateway][routing]") {
  CHECK(PercentDecode("a%20b%2Fc") == std::optional<std::string>("a b/c"));
  CHECK(PercentDecode("a+b") == std::optional<std::string>("a+b"));
  CHECK(PercentDecode("a+b", true) == std::optional<std::string>("a b"));
  CHECK_FALSE(PercentDecode("%4").has_value());
  CHECK_FALSE(PercentDecode("%").has_value());
  CHECK_FALSE(PercentDecode("%g1").has_value());
  auto q = ParseQuery("namespace=team%2Da&flag&x=1&x=2&&sp=a+b&bad=%zz");
  CHECK(q == std::map<std::string, std::string>{
                 {"namespace", "team-a"}, {"flag", ""}, {"x", "1"}, {"sp", "a b"}, {"bad", "%zz"}});
  auto s = SplitTarget("/a/b?c=d?e");
  CHECK(s.path == "/a/b");
  CHECK(s.query == "c=d?e");
  CHECK(SplitTarget("/a").query.empty());
}

TEST_CASE("gateway: error codes map to HTTP status in one place", "[gateway][errors]") {
  using C = core::ErrorCode;
  struct Case {
    C code;
    int api, invoke;
  };
  std::vector<Case> cases = {
      {C::kInvalidArgument, 400, 502}, {C::kNotFound, 404, 404},    {C::kAlreadyExists, 409, 502},
      {C::kConflict, 409, 502},        {C::kUnavailable, 503, 429}, {C::kTimeout, 504, 503},
      {C::kCancelled, 500, 502},       {C::kInternal, 500, 502},
  };
  for (const auto& c : cases) {
    INFO(core::ErrorCodeName(c.code));
    CHECK(ApiStatusFor(c.code) == c.api);
    CHECK(InvokeStatusFor(c.code) == c.invoke);
  }
  ApiResponse r = ToApiResponse(core::Error::Conflict("function \"echo\" is being deleted"));
  CHECK(r.status == 409);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == R"({"error":"function \"echo\" is being deleted"})");
  ApiResponse ok = ToApiResponse(ApiResponse{202, "text/plain", "accepted", {}});
  CHECK(ok.status == 202);
  CHECK(ok.body == "accepted");
  CHECK(ErrorJson("no such function", "echo") ==
        R"({"error":"no such function","function":"echo"})");
  CHECK(ErrorJson("bad \xff byte") == "{\"error\":\"bad \xef\xbf\xbd byte\"}");
}

}  // namespace
}  // namespace gantry::gateway
