#include "http/http.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <cctype>
#include <memory>
#include <optional>

namespace gantry::http {
namespace {

struct Transfer {
  const Request* request;
  Response* response;
  std::optional<std::string> denied_by;  // the filter's reason for the last refused address
  const ChunkFn* on_chunk = nullptr;     // Stream: where a 2xx body goes
  CURL* handle = nullptr;
  bool stopped = false;  // on_chunk returned false
};

size_t Append(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->on_chunk != nullptr) {
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if ((*t->on_chunk)(std::string_view(data, bytes))) return bytes;
      t->stopped = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
  }
  if (t->response->body.size() + bytes > t->request->max_response_bytes) {
    t->response->response_too_big = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->response->body.append(data, bytes);
  return bytes;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// One header line at a time, status line included: a new status line (an interim 1xx
// answer before the real one) starts the headers over.
size_t Header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t->response->headers[name] = Trim(line.substr(colon + 1));
  return size * n;
}

// Called for every address curl is about to connect to, after resolving the name.
curl_socket_t OpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (auto denied = t->request->address_filter(address->addr)) {
    t->denied_by = std::move(denied);
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

Response Send(const Request& request) {
  return Stream(request, nullptr);
}

Response Stream(const Request& request, const ChunkFn& on_chunk) {
  Response r;
  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) {
    r.error = "out of memory";
    return r;
  }
  CURL* h = handle.get();
  Transfer transfer{&request, &r, std::nullopt, on_chunk ? &on_chunk : nullptr, h};
  std::unique_ptr<curl_slist, SlistDeleter> list;
  auto add = [&list](const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next != nullptr) {
      (void)list.release();  // appended to: `next` is the same list, longer
      list.reset(next);
    }
  };
  for (const auto& line : request.headers) add(line);
  add("Expect:");
  const char* protocols = request.allow_https ? "http,https" : "http";
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // "" turns off the *_proxy environment variables
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);  // an answer to HEAD has no body to wait for
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, Header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (request.address_filter) {
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &transfer);
  }
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  } else if (transfer.stopped) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    r.error = "stopped by the receiver";
  } else if (r.response_too_big) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    r.error = fmt::format("the answer is over the limit of {} bytes", request.max_response_bytes);
  } else if (transfer.denied_by) {
    r.denied = true;
    r.error = *transfer.denied_by;
  } else {
    r.error = curl_easy_strerror(rc);
  }
  return r;
}

}  // namespace gantry::http
