#pragma once

#include <memory>
#include <string>

#include "docker/curl_transport.h"
#include "docker/docker_client.h"

namespace gantry::docker {

struct CurlDockerClientOptions {
  // "unix:///path" or "tcp://host:port"; empty: $DOCKER_HOST, else /var/run/docker.sock.
  std::string docker_host;
  // Pin this API version instead of negotiating one with GET /version.
  std::string api_version;
};

// DockerClient over libcurl (see CurlTransport). The API version is negotiated once, in
// Connect, and pinned in every path. Thread-safe.
class CurlDockerClient final : public DockerClient {
 public:
  // Resolves the endpoint and negotiates the API version. kInvalidArgument for a bad
  // DOCKER_HOST; kUnavailable when the engine can't be reached or is too old.
  static core::Result<std::unique_ptr<CurlDockerClient>> Connect(
      const CurlDockerClientOptions& options = {});

  core::Status Ping() override;
  core::Result<VersionInfo> Version() override;
  core::Result<EngineInfo> Info() override;
  std::string ApiVersion() const override { return api_version_; }

  core::Result<std::string> BuildImage(const BuildOptions& options, const BodyReader& context,
                                       const BuildProgressFn& progress) override;
  core::Result<ImageInfo> InspectImage(std::string_view name) override;
  core::Result<std::vector<ImageInfo>> ListImages(const LabelSelector& labels) override;
  core::Status RemoveImage(std::string_view name, bool force) override;
  core::Result<std::string> ImportImage(const ImportOptions& options,
                                        const BodyReader& rootfs) override;

  core::Result<std::string> CreateContainer(const ContainerSpec& spec) override;
  core::Status StartContainer(std::string_view id) override;
  core::Result<ContainerInfo> InspectContainer(std::string_view id) override;
  core::Status StopContainer(std::string_view id, int timeout_seconds) override;
  core::Status KillContainer(std::string_view id, std::string_view signal) override;
  core::Status RemoveContainer(std::string_view id, const RemoveOptions& options) override;
  core::Status PauseContainer(std::string_view id) override;
  core::Status UnpauseContainer(std::string_view id) override;
  core::Status UpdateContainer(std::string_view id, const ContainerResources& resources) override;
  core::Status CopyFromContainer(std::string_view id, std::string_view path,
                                 const ByteSinkFn& sink) override;
  core::Result<WaitResult> WaitContainer(std::string_view id) override;
  core::Result<std::vector<ContainerSummary>> ListContainers(const LabelSelector& labels,
                                                             bool all) override;

  core::Result<std::string> CreateNetwork(const NetworkSpec& spec) override;
  core::Result<NetworkInfo> InspectNetwork(std::string_view name) override;
  core::Result<std::vector<NetworkInfo>> ListNetworks(const LabelSelector& labels) override;
  core::Status RemoveNetwork(std::string_view name) override;

  core::Status Logs(std::string_view id, const LogsOptions& options, const LogLineFn& on_line,
                    std::stop_token stop) override;
  core::Status Events(const EventsOptions& options, const EventFn& on_event,
                      std::stop_token stop) override;

 private:
  CurlDockerClient(std::unique_ptr<CurlTransport> transport, std::string api_version)
      : transport_(std::move(transport)), api_version_(std::move(api_version)) {}

  // Sends a request whose answer is JSON; maps non-2xx to errors.
  core::Result<nlohmann::json> CallJson(const HttpRequest& request);
  // Sends a request whose answer carries no body; `ok_statuses` besides 2xx count as
  // success (304 "already started").
  core::Status CallNoBody(const HttpRequest& request, long ok_status = 0);

  std::unique_ptr<CurlTransport> transport_;
  std::string api_version_;
};

}  // namespace gantry::docker
