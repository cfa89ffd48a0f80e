#include "docker/curl_docker_client.h"

#include <fmt/format.h>

#include <cstdlib>

#include "docker/build_progress.h"
#include "docker/json_stream.h"
#include "docker/responses.h"
#include "docker/stdcopy.h"

namespace gantry::docker {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr seconds kQuickTimeout{60};

HttpRequest Get(std::string path) {
  return HttpRequest{.path = std::move(path), .timeout = kQuickTimeout};
}

HttpRequest Post(std::string path) {
  return HttpRequest{.method = "POST", .path = std::move(path), .timeout = kQuickTimeout};
}

std::string ContainerPath(std::string_view id, std::string_view suffix = "") {
  return fmt::format("/containers/{}{}", UrlEncode(id), suffix);
}

core::Status FinishJson(JsonStreamDecoder& decoder) {
  if (auto r = decoder.Finish(); !r) return r.error();
  return core::Ok();
}

// Streams the answer to `request` into `feed` (a decoder's Feed: Result<bool>, false =
// stop), then `finish` (the decoder's end-of-stream check). A decoder error ends the
// transfer and comes back with the call named.
template <typename Feed, typename Finish>
core::Status StreamInto(CurlTransport& transport, const HttpRequest& request,
                        const BodyReader* upload, Feed&& feed, Finish&& finish,
                        const std::stop_token& stop = {}) {
  core::Status decode_error;
  auto status = transport.Stream(
      request, upload,
      [&](std::string_view data) {
        core::Result<bool> r = feed(data);
        if (!r) decode_error = r.error();
        return r.ok() && *r;
      },
      stop);
  if (!status) return status.error();
  if (decode_error.ok()) decode_error = finish();
  if (!decode_error.ok()) return decode_error.error().WithContext(request.Describe());
  return core::Ok();
}

}  // namespace

core::Result<std::unique_ptr<CurlDockerClient>> CurlDockerClient::Connect(
    const CurlDockerClientOptions& options) {
  std::string host = options.docker_host;
  if (host.empty()) {
    const char* env = std::getenv("DOCKER_HOST");
    if (env != nullptr) host = env;
  }
  auto endpoint = ParseDockerHost(host);
  if (!endpoint) return endpoint.error();
  auto transport = std::make_unique<CurlTransport>(std::move(*endpoint));

  std::string version = options.api_version;
  if (version.empty()) {
    // Unversioned: the one call whose answer tells which version to pin.
    auto response = transport->Call(Get("/version"));
    if (!response) return response.error();
    if (response->status != 200)
      return ErrorFromResponse(response->status, response->body, "GET /version");
    auto j = ParseJson(response->body, "GET /version");
    if (!j) return j.error();
    auto v = ParseVersion(*j);
    if (!v) return v.error();
    auto negotiated = NegotiateApiVersion(v->api_version);
    if (!negotiated) return negotiated.error();
    version = *negotiated;
  }
  transport->SetVersionPrefix("/v" + version);
  return std::unique_ptr<CurlDockerClient>(new CurlDockerClient(std::move(transport), version));
}

core::Result<json> CurlDockerClient::CallJson(const HttpRequest& request) {
  auto response = transport_->Call(request);
  if (!response) return response.error();
  if (response->status < 200 || response->status >= 300) {
    return ErrorFromResponse(response->status, response->body, request.Describe());
  }
  return ParseJson(response->body, request.Describe());
}

core::Status CurlDockerClient::CallNoBody(const HttpRequest& request, long ok_status) {
  auto response = transport_->Call(request);
  if (!response) return response.error();
  if ((response->status >= 200 && response->status < 300) || response->status == ok_status)
    return core::Ok();
  return ErrorFromResponse(response->status, response->body, request.Describe());
}

core::Status CurlDockerClient::Ping() {
  auto response = transport_->Call(Get("/_ping"));
  if (!response) return response.error();
  if (response->status != 200)
    return ErrorFromResponse(response->status, response->body, "GET /_ping");
  return core::Ok();
}

core::Result<VersionInfo> CurlDockerClient::Version() {
  auto j = CallJson(Get("/version"));
  if (!j) return j.error();
  return ParseVersion(*j);
}

core::Result<EngineInfo> CurlDockerClient::Info() {
  auto j = CallJson(Get("/info"));
  if (!j) return j.error();
  return ParseInfo(*j);
}

core::Result<std::string> CurlDockerClient::BuildImage(const BuildOptions& options,
                                                       const BodyReader& context,
                                                       const BuildProgressFn& progress) {
  HttpRequest request = ImageBuildRequest(options);
  BuildProgress tracker(progress);
  JsonStreamDecoder decoder([&](const json& m) { return tracker.OnMessage(m); });
  auto streamed = StreamInto(
      *transport_, request, &context, [&](std::string_view d) { return decoder.Feed(d); },
      [&] { return FinishJson(decoder); });
  if (!streamed) return streamed.error();
  auto outcome = tracker.Outcome();
  if (!outcome) return outcome.error().WithContext(request.Describe());
  return outcome;
}

core::Result<ImageInfo> CurlDockerClient::InspectImage(std::string_view name) {
  auto j = CallJson(Get(fmt::format("/images/{}/json", name)));
  if (!j) return j.error();
  return ParseImageInspect(*j);
}

core::Result<std::vector<ImageInfo>> CurlDockerClient::ListImages(const LabelSelector& labels) {
  auto j = CallJson(ImageListRequest(labels));
  if (!j) return j.error();
  return ParseImageList(*j);
}

core::Status CurlDockerClient::RemoveImage(std::string_view name, bool force) {
  return CallNoBody(ImageRemoveRequest(name, force));
}

core::Result<std::string> CurlDockerClient::ImportImage(const ImportOptions& options,
                                                        const BodyReader& rootfs) {
  HttpRequest request = ImageImportRequest(options);
  std::string id;
  std::string error;
  JsonStreamDecoder decoder([&](const json& m) {
    if (m.contains("error") && m["error"].is_string()) error = m["error"].get<std::string>();
    if (m.contains("status") && m["status"].is_string()) id = m["status"].get<std::string>();
    return true;
  });
  auto streamed = StreamInto(
      *transport_, request, &rootfs, [&](std::string_view d) { return decoder.Feed(d); },
      [&] { return FinishJson(decoder); });
  if (!streamed) return streamed.error();
  if (!error.empty())
    return core::Error::InvalidArgument(fmt::format("{}: {}", request.Describe(), error));
  if (id.rfind("sha256:", 0) != 0) {
    return core::Error::Internal(
        fmt::format("{}: engine answered without an image id", request.Describe()));
  }
  return id;
}

core::Result<std::string> CurlDockerClient::CreateContainer(const ContainerSpec& spec) {
  auto j = CallJson(ContainerCreateRequest(spec));
  if (!j) return j.error();
  return ParseCreated(*j);
}

core::Status CurlDockerClient::StartContainer(std::string_view id) {
  return CallNoBody(Post(ContainerPath(id, "/start")), /*ok_status=304 already started*/ 304);
}

core::Result<ContainerInfo> CurlDockerClient::InspectContainer(std::string_view id) {
  auto j = CallJson(Get(ContainerPath(id, "/json")));
  if (!j) return j.error();
  return ParseContainerInspect(*j);
}

core::Status CurlDockerClient::StopContainer(std::string_view id, int timeout_seconds) {
  return CallNoBody(ContainerStopRequest(id, timeout_seconds),
                    /*ok_status=304 already stopped*/ 304);
}

core::Status CurlDockerClient::KillContainer(std::string_view id, std::string_view signal) {
  return CallNoBody(ContainerKillRequest(id, signal));
}

core::Status CurlDockerClient::RemoveContainer(std::string_view id, const RemoveOptions& options) {
  return CallNoBody(ContainerRemoveRequest(id, options));
}

core::Status CurlDockerClient::PauseContainer(std::string_view id) {
  return CallNoBody(Post(ContainerPath(id, "/pause")));
}

core::Status CurlDockerClient::UnpauseContainer(std::string_view id) {
  return CallNoBody(Post(ContainerPath(id, "/unpause")));
}

core::Status CurlDockerClient::UpdateContainer(std::string_view id,
                                               const ContainerResources& resources) {
  return CallNoBody(ContainerUpdateRequest(id, resources));
}

core::Status CurlDockerClient::CopyFromContainer(std::string_view id, std::string_view path,
                                                 const ByteSinkFn& sink) {
  HttpRequest request = ContainerArchiveRequest(id, path);
  auto status = transport_->Stream(request, nullptr, sink);
  if (!status) return status.error();
  return core::Ok();
}

core::Result<WaitResult> CurlDockerClient::WaitContainer(std::string_view id) {
  HttpRequest request{.method = "POST", .path = ContainerPath(id, "/wait")};  // no time limit
  request.query.emplace_back("condition", "not-running");
  auto j = CallJson(request);
  if (!j) return j.error();
  return ParseWait(*j);
}

core::Result<std::vector<ContainerSummary>> CurlDockerClient::ListContainers(
    const LabelSelector& labels, bool all) {
  auto j = CallJson(ContainerListRequest(labels, all));
  if (!j) return j.error();
  return ParseContainerList(*j);
}

core::Result<std::string> CurlDockerClient::CreateNetwork(const NetworkSpec& spec) {
  auto j = CallJson(NetworkCreateRequest(spec));
  if (!j) return j.error();
  return ParseCreated(*j);
}

core::Result<NetworkInfo> CurlDockerClient::InspectNetwork(std::string_view name) {
  auto j = CallJson(NetworkInspectRequest(name));
  if (!j) return j.error();
  return ParseNetworkInspect(*j);
}

core::Result<std::vector<NetworkInfo>> CurlDockerClient::ListNetworks(const LabelSelector& labels) {
  auto j = CallJson(NetworkListRequest(labels));
  if (!j) return j.error();
  return ParseNetworkList(*j);
}

core::Status CurlDockerClient::RemoveNetwork(std::string_view name) {
  HttpRequest request = NetworkRemoveRequest(name);
  auto response = transport_->Call(request);
  if (!response) return response.error();
  if (response->status >= 200 && response->status < 300) return core::Ok();
  // The engine answers 403 for "has active endpoints": the network is in use.
  if (response->status == 403) {
    core::Error e = ErrorFromResponse(response->status, response->body, request.Describe());
    return core::Error::Conflict(e.message());
  }
  return ErrorFromResponse(response->status, response->body, request.Describe());
}

core::Status CurlDockerClient::Logs(std::string_view id, const LogsOptions& options,
                                    const LogLineFn& on_line, std::stop_token stop) {
  HttpRequest request = ContainerLogsRequest(id, options);
  bool consumer_stopped = false;
  LineAssembler lines([&](Stream s, std::string_view line) {
    if (!on_line(s, line)) consumer_stopped = true;
    return !consumer_stopped;
  });
  StdcopyDecoder frames([&](Stream s, std::string_view data) { return lines.Feed(s, data); });
  return StreamInto(
      *transport_, request, nullptr, [&](std::string_view d) { return frames.Feed(d); },
      [&]() -> core::Status {
        if (!consumer_stopped) lines.Flush();
        return core::Ok();
      },
      stop);
}

core::Status CurlDockerClient::Events(const EventsOptions& options, const EventFn& on_event,
                                      std::stop_token stop) {
  HttpRequest request = EventsRequest(options);
  core::Status parse_error;
  JsonStreamDecoder decoder([&](const json& m) {
    auto event = ParseEvent(m);
    if (!event) {
      parse_error = event.error();
      return false;
    }
    return on_event(*event);
  });
  return StreamInto(
      *transport_, request, nullptr, [&](std::string_view d) { return decoder.Feed(d); },
      [&] { return parse_error; }, stop);
}

}  // namespace gantry::docker
