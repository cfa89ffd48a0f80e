#include "docker/curl_transport.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <memory>

#include "docker/responses.h"

namespace gantry::docker {
namespace {

constexpr std::string_view kDefaultSocket = "/var/run/docker.sock";
constexpr std::size_t kMaxErrorBody = std::size_t{64} * 1024;
constexpr std::size_t kMaxIdleHandles = 32;

std::once_flag g_curl_init;

// State of one transfer, shared with libcurl's callbacks.
struct Transfer {
  CURL* handle = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;  // null: collect the body
  const BodyReader* upload = nullptr;
  std::stop_token stop;
  long status = 0;
  std::string body;
  bool consumer_stopped = false;
  bool upload_failed = false;
};

std::size_t OnWrite(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (t->status == 0) curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &t->status);
  bool success = t->status >= 200 && t->status < 300;
  if (t->on_data == nullptr || !success) {
    // Whole answers are kept; the body of a failed stream only as far as an error needs.
    if (t->on_data == nullptr || t->body.size() < kMaxErrorBody) t->body.append(data, n);
    return n;
  }
  if (!(*t->on_data)(std::string_view(data, n))) {
    t->consumer_stopped = true;
    return 0;  // makes libcurl end the transfer with CURLE_WRITE_ERROR
  }
  return n;
}

std::size_t OnRead(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::ptrdiff_t n = (*t->upload)(buffer, size * count);
  if (n < 0) {
    t->upload_failed = true;
    return CURL_READFUNC_ABORT;
  }
  return static_cast<std::size_t>(n);
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->stop.stop_requested() ? 1 : 0;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

std::string Endpoint::Describe() const {
  if (!unix_socket.empty()) return "unix://" + unix_socket;
  std::string_view url = base_url;
  if (url.rfind("http://", 0) == 0) url.remove_prefix(7);
  return "tcp://" + std::string(url);
}

core::Result<Endpoint> ParseDockerHost(std::string_view docker_host) {
  if (docker_host.empty()) return Endpoint{std::string(kDefaultSocket), "http://docker"};
  if (docker_host.rfind("unix://", 0) == 0) {
    std::string_view path = docker_host.substr(7);
    if (path.empty())
      return core::Error::InvalidArgument("DOCKER_HOST unix:// needs a socket path");
    return Endpoint{std::string(path), "http://docker"};
  }
  if (docker_host.rfind("tcp://", 0) == 0) {
    std::string_view hostport = docker_host.substr(6);
    while (!hostport.empty() && hostport.back() == '/') hostport.remove_suffix(1);
    if (hostport.empty() || hostport.find('/') != std::string_view::npos) {
      return core::Error::InvalidArgument(
          fmt::format("DOCKER_HOST \"{}\": expected tcp://host:port", docker_host));
    }
    return Endpoint{"", "http://" + std::string(hostport)};
  }
  return core::Error::InvalidArgument(
      fmt::format("DOCKER_HOST \"{}\": only unix:// and tcp:// are supported", docker_host));
}

CurlTransport::CurlTransport(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlTransport::~CurlTransport() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* CurlTransport::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(CURL* handle) {
  // Reset clears the options but keeps the live connection for the next call.
  curl_easy_reset(handle);
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(handle);
}

core::Result<Response> CurlTransport::Call(const HttpRequest& request) {
  return Perform(request, nullptr, nullptr, {});
}

core::Result<long> CurlTransport::Stream(const HttpRequest& request, const BodyReader* upload,
                                         const std::function<bool(std::string_view)>& on_data,
                                         std::stop_token stop) {
  auto response = Perform(request, upload, &on_data, std::move(stop));
  if (!response) return response.error();
  if (response->status < 200 || response->status >= 300) {
    return ErrorFromResponse(response->status, response->body, request.Describe());
  }
  return response->status;
}

core::Result<Response> CurlTransport::Perform(const HttpRequest& request, const BodyReader* upload,
                                              const std::function<bool(std::string_view)>* on_data,
                                              std::stop_token stop) {
  CURL* h = Acquire();
  if (h == nullptr) return core::Error::Internal("curl_easy_init failed");
  struct Releaser {
    CurlTransport* t;
    CURL* h;
    ~Releaser() { t->Release(h); }
  } releaser{this, h};

  Transfer t{.handle = h, .on_data = on_data, .upload = upload, .stop = std::move(stop)};
  std::string url = endpoint_.base_url + version_prefix_ + request.path;
  if (!request.query.empty()) url += "?" + EncodeQuery(request.query);
  char error_buffer[CURL_ERROR_SIZE] = {};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  add_header("Expect:");  // no 100-continue round trip before bodies
  if (!request.content_type.empty()) add_header("Content-Type: " + request.content_type);

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  if (!endpoint_.unix_socket.empty())
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, endpoint_.unix_socket.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (request.timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  if (t.stop.stop_possible()) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  }
  if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    if (upload != nullptr) {
      add_header("Transfer-Encoding: chunked");
      curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
    } else {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = curl_easy_perform(h);
  if (t.status == 0) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.status);
  std::string call = request.Describe();
  std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_WRITE_ERROR:
      if (!t.consumer_stopped) return core::Error::Internal(fmt::format("{}: {}", call, detail));
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      if (t.upload_failed)
        return core::Error::Internal(fmt::format("{}: reading the request body failed", call));
      return core::Error::Cancelled(fmt::format("{}: cancelled", call));
    case CURLE_READ_ERROR:
      return core::Error::Internal(fmt::format("{}: reading the request body failed", call));
    case CURLE_OPERATION_TIMEDOUT:
      return core::Error::Timeout(
          fmt::format("{}: no answer from the engine in time: {}", call, detail));
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return core::Error::Unavailable(
          fmt::format("{}: cannot reach the Docker engine at {}: {} (is dockerd running? "
                      "scripts/docker-up starts it)",
                      call, endpoint_.Describe(), detail));
    default:
      return core::Error::Unavailable(
          fmt::format("{}: {}: {}", call, endpoint_.Describe(), detail));
  }
  return Response{t.status, std::move(t.body)};
}

}  // namespace gantry::docker
