#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "daemon/callback_policy.h"

namespace gantry::daemon {

// One HTTP request the async worker makes: a queued call to gantryd's own gateway, or a
// result POSTed to a callback URL.
struct HttpRequest {
  std::string method = "POST";
  std::string url;                   // sent as it is: the path is not normalised ("/a/../b" stays)
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::seconds timeout{30};
  std::size_t max_response_bytes = 64 << 20;  // more: the transfer is aborted
  // Non-null for a callback: only http/https, and each address about to be connected to
  // (after DNS) is checked against the policy's deny-list. Null for the call to gantryd's
  // own gateway (loopback, http only).
  const CallbackPolicy* callback_policy = nullptr;
};

struct HttpResult {
  long status = 0;  // 0: no answer (see error)
  std::string body;
  std::string error;              // why there is no answer, or why the body is cut short
  bool denied = false;            // the callback policy refused every address tried
  bool response_too_big = false;  // over max_response_bytes
};

// Sends a request and waits for the whole answer. Thread-safe (one handle per call).
using HttpSender = std::function<HttpResult(const HttpRequest&)>;

// The real sender, over libcurl: no proxies (not even from the environment), no redirects,
// no protocols but http (and https for callbacks), no signals.
HttpResult CurlSend(const HttpRequest& request);

}  // namespace gantry::daemon
