#pragma once

#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "docker/requests.h"
#include "docker/types.h"

typedef void CURL;  // NOLINT: libcurl's own typedef, kept out of this header's users

namespace gantry::docker {

// Where the engine listens.
struct Endpoint {
  std::string unix_socket;  // non-empty: HTTP over this unix socket
  std::string base_url;     // "http://docker" (unix) or "http://host:port" (tcp)

  // "unix:///var/run/docker.sock" or "tcp://host:port".
  std::string Describe() const;
};

// Parses a DOCKER_HOST value: "unix:///path" or "tcp://host:port"; empty means the
// default socket /var/run/docker.sock. kInvalidArgument for other schemes.
core::Result<Endpoint> ParseDockerHost(std::string_view docker_host);

struct Response {
  long status = 0;
  std::string body;
};

// HTTP/1.1 to the engine over libcurl. Keeps a pool of easy handles so that calls from
// several threads run at once and each handle keeps its connection alive between calls.
// Thread-safe; SetVersionPrefix must be called before the transport is shared.
class CurlTransport {
 public:
  explicit CurlTransport(Endpoint endpoint);
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Prefixes every path, e.g. "/v1.41". Empty (the default) sends unversioned paths.
  void SetVersionPrefix(std::string prefix) { version_prefix_ = std::move(prefix); }
  const Endpoint& endpoint() const { return endpoint_; }

  // Sends `request` and returns the status and whole body, whatever the status. Fails
  // only when no answer came: kUnavailable (cannot connect), kTimeout.
  core::Result<Response> Call(const HttpRequest& request);

  // Sends `request` (with a streamed body from `upload`, if given) and passes the body
  // of a 2xx answer to `on_data` piece by piece as it arrives; returns the status. Stops
  // early, successfully, when `on_data` returns false; with kCancelled when `stop` fires
  // (checked at least once a second). A non-2xx answer is returned as the mapped error
  // (see ErrorFromResponse).
  core::Result<long> Stream(const HttpRequest& request, const BodyReader* upload,
                            const std::function<bool(std::string_view)>& on_data,
                            std::stop_token stop = {});

 private:
  core::Result<Response> Perform(const HttpRequest& request, const BodyReader* upload,
                                 const std::function<bool(std::string_view)>* on_data,
                                 std::stop_token stop);
  CURL* Acquire();
  void Release(CURL* handle);

  Endpoint endpoint_;
  std::string version_prefix_;
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_
};

}  // namespace gantry::docker
