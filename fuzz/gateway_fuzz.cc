// libFuzzer target for the gateway's request path: any bytes, as what one client sends on
// one connection, are served by a Gateway session over an in-memory stream
// (Gateway::ServeInMemory: no sockets, one thread). The backend answers from memory, so
// invoke requests end at Resolve (404, 429, 503, 502) and management requests reach
// handlers that echo what they were given. Whatever the bytes: no crash, no exception, no
// sanitizer report, and every byte written back is a sequence of well-formed HTTP/1.1
// responses whose error bodies are JSON.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "gateway/gateway.h"

namespace {

namespace http = boost::beast::http;
using namespace gantry;

// Answers every Resolve from memory, by function name, so the fuzzer can reach each outcome.
class MemoryBackend : public gateway::InvokeBackend {
 public:
  void Resolve(const std::string& ns, const std::string& name,
               gateway::ResolveCallback done) override {
    // Only in "default": failures are counted per function, and the names of functions that
    // exist are bounded (unknown ones, 404, are not counted), as with the real backend.
    if (ns == "default") {
      if (name == "busy") return done(core::Error::Unavailable("queue of \"busy\" is full"));
      if (name == "slow") return done(core::Error::Timeout("no replica became ready"));
      if (name == "broken") return done(core::Error::Internal("the pool is broken"));
    }
    done(core::Error::NotFound("function \"" + name + "\" not found in namespace \"" + ns + "\""));
  }
};

gateway::Gateway& TheGateway() {
  static MemoryBackend backend;
  static gateway::Gateway* g = [] {
    gateway::GatewayOptions o;
    o.token = "fuzz-token";
    o.max_api_body = 1 << 20;
    o.max_invoke_body = 1 << 20;
    auto echo = [](const gateway::ApiRequest& r) -> core::Result<gateway::ApiResponse> {
      std::string out = r.method + " " + r.path + "\n";
      for (const auto& [k, v] : r.params) out.append(k).append("=").append(v).append("\n");
      for (const auto& [k, v] : r.query) out.append(k).append("=").append(v).append("\n");
      out += r.body;
      return gateway::ApiResponse{200, "text/plain", std::move(out), {}};
    };
    auto invalid = [](const gateway::ApiRequest& r) -> core::Result<gateway::ApiResponse> {
      return core::Error::InvalidArgument("bad " + r.path);
    };
    std::vector<gateway::Route> routes = {
        {"GET", "/system/functions", echo, true},
        {"POST", "/system/functions", echo, false},
        {"PUT", "/apis/gantry/v1/namespaces/{ns}/functions/{name}", echo, false},
        {"*", "/async-function/{name}", echo, false},
        {"DELETE", "/system/function/{name}", invalid, false},
    };
    return new gateway::Gateway(o, backend, std::move(routes));
  }();
  return *g;
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "gateway_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// What the gateway wrote must parse as whole responses, one after another.
void CheckResponses(const std::string& out) {
  boost::beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(out.size()), boost::asio::buffer(out)));
  while (buffer.size() > 0) {
    http::response_parser<http::string_body> p;
    p.eager(true);
    p.header_limit(1 << 20);
    p.body_limit(std::uint64_t{1} << 30);
    boost::beast::error_code ec;
    std::size_t used = p.put(buffer.data(), ec);
    if (!ec && !p.is_done()) {
      p.put_eof(ec);  // a body that ends with the stream
    }
    if (ec) Fail("unparseable answer", ec.message() + "\n" + out);
    buffer.consume(used);
    const auto& res = p.get();
    if (res.result_int() >= 400 && res[http::field::content_type] == "application/json" &&
        res.body().find("\"error\"") == std::string::npos) {
      Fail("an error answer without an error field", out);
    }
    if (used == 0) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string out;
  try {
    out = TheGateway().ServeInMemory(input);
  } catch (const std::exception& e) {
    Fail("exception out of a session", e.what());
  }
  CheckResponses(out);
  return 0;
}
