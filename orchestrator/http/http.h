#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Request/response HTTP from Gantry's own programs (gantryd's async calls and callbacks, the
// CLI's calls to gantryd), over libcurl. The Engine API has its own transport
// (docker/curl_transport: a handle pool on a unix socket, streaming).
namespace gantry::http {

// Decides whether a connection to `address` (after DNS) may be made: nullopt allows it,
// a string refuses it and is the error the request then fails with.
using AddressFilter = std::function<std::optional<std::string>(const sockaddr& address)>;

struct Request {
  std::string method = "GET";
  std::string url;                   // sent as it is: the path is not normalised ("/a/../b" stays)
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when non-empty, or for POST and PUT
  std::chrono::seconds timeout{30};  // for the whole exchange
  std::chrono::seconds connect_timeout{10};
  std::size_t max_response_bytes = 64 << 20;  // more: the transfer is aborted
  bool allow_https = false;                   // http only unless set
  // Checked for every address about to be connected to, so that a name which resolves (or
  // re-resolves) to a refused address can't get past it. Empty: every address is allowed.
  AddressFilter address_filter;
};

struct Response {
  long status = 0;  // 0: no answer (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; a repeated one keeps the last
  std::string error;              // why there is no answer, or why the body is cut short
  bool denied = false;            // the address filter refused every address tried
  bool response_too_big = false;  // over max_response_bytes
};

// Sends a request and waits for the whole answer.
using Sender = std::function<Response(const Request&)>;

// Receives a streamed answer's body as it arrives, a chunk at a time (whatever the network
// delivered: not split at lines); returns false to end the transfer (Stream's Response then
// says error "stopped by the receiver").
using ChunkFn = std::function<bool(std::string_view chunk)>;
// Sends a request and hands the body of a 2xx answer to `on_chunk` as it arrives (logs -f,
// build progress); the Response's body stays empty then. A non-2xx answer's body is
// collected in the Response as Send does. request.timeout 0: no limit for the exchange.
using Streamer = std::function<Response(const Request&, const ChunkFn& on_chunk)>;

// The real sender: no proxies (not even from the environment), no redirects, no protocols
// but http (and https when allowed), no signals, no "Expect: 100-continue". Never throws;
// every failure is a Response with status 0 and an error. Thread-safe (one handle per call).
Response Send(const Request& request);
// The real streamer: as Send, with the body of a 2xx answer going to `on_chunk`.
Response Stream(const Request& request, const ChunkFn& on_chunk);

}  // namespace gantry::http
