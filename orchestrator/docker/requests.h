#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "docker/types.h"

// Building Engine API requests from Gantry's types: pure functions, no I/O, so that what is
// sent can be tested without an engine.
namespace gantry::docker {

// One Engine API request. `path` is unversioned ("/containers/create"); the transport
// prefixes the pinned API version.
struct HttpRequest {
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;                      // small bodies; streamed bodies go through a BodyReader
  std::string content_type;              // empty: no Content-Type header
  std::chrono::milliseconds timeout{0};  // 0: no limit (streams), else the whole call

  // "POST /containers/create", for error messages.
  std::string Describe() const { return method + " " + path; }
};

// Percent-encodes a query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view text);
// "a=1&b=x%20y", in the order given.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query);

// The engine's `filters` parameter: {"label":["k=v",...],"type":[...],"event":[...]};
// empty lists are left out.
std::string FiltersJson(const LabelSelector& labels, const std::vector<std::string>& types = {},
                        const std::vector<std::string>& actions = {});

nlohmann::json ContainerCreateBody(const ContainerSpec& spec);
HttpRequest ContainerCreateRequest(const ContainerSpec& spec);
HttpRequest ContainerListRequest(const LabelSelector& labels, bool all);
HttpRequest ContainerStopRequest(std::string_view id, int timeout_seconds);
HttpRequest ContainerKillRequest(std::string_view id, std::string_view signal);
HttpRequest ContainerRemoveRequest(std::string_view id, const RemoveOptions& options);
HttpRequest ContainerUpdateRequest(std::string_view id, const ContainerResources& resources);
HttpRequest ContainerArchiveRequest(std::string_view id, std::string_view path);
HttpRequest ContainerLogsRequest(std::string_view id, const LogsOptions& options);
HttpRequest EventsRequest(const EventsOptions& options);
HttpRequest ImageBuildRequest(const BuildOptions& options);
HttpRequest ImageImportRequest(const ImportOptions& options);
HttpRequest ImageListRequest(const LabelSelector& labels);
HttpRequest ImageRemoveRequest(std::string_view name, bool force);
nlohmann::json NetworkCreateBody(const NetworkSpec& spec);
HttpRequest NetworkCreateRequest(const NetworkSpec& spec);
HttpRequest NetworkInspectRequest(std::string_view name);
HttpRequest NetworkListRequest(const LabelSelector& labels);
HttpRequest NetworkRemoveRequest(std::string_view name);

}  // namespace gantry::docker

namespace gantry::docker {

// The API versions this client speaks. 1.41 is Docker 20.10 (Debian bookworm's docker.io).
inline constexpr std::string_view kMinApiVersion = "1.40";
inline constexpr std::string_view kMaxApiVersion = "1.43";

// Picks the version to pin: the engine's highest, capped at kMaxApiVersion. Returns
// kUnavailable when the engine is older than kMinApiVersion or the version is malformed.
core::Result<std::string> NegotiateApiVersion(std::string_view engine_api_version);

}  // namespace gantry::docker
