#include "docker/docker_client.h"

namespace gantry::docker {

// Test doubles that predate these calls need not implement them.
core::Status DockerClient::UpdateContainer(std::string_view /*id*/,
                                           const ContainerResources& /*resources*/) {
  return core::Error::Internal("POST /containers/update: not supported by this client");
}

core::Status DockerClient::CopyFromContainer(std::string_view /*id*/, std::string_view /*path*/,
                                             const ByteSinkFn& /*sink*/) {
  return core::Error::Internal("GET /containers/archive: not supported by this client");
}

namespace {

bool LostCachedLayer(std::string_view message) {
  return message.find("unknown parent image ID") != std::string_view::npos ||
         (message.find("failed to get digest") != std::string_view::npos &&
          message.find("no such file or directory") != std::string_view::npos);
}

}  // namespace

core::Result<std::string> BuildImageFromTar(DockerClient& client, const BuildOptions& options,
                                            const std::string& tar, const BuildProgressFn& progress,
                                            const std::function<void()>& on_retry) {
  auto id = client.BuildImage(options, ReadFromString(tar), progress);
  if (!id && LostCachedLayer(id.error().message())) {
    if (on_retry) on_retry();
    id = client.BuildImage(options, ReadFromString(tar), progress);
  }
  return id;
}

}  // namespace gantry::docker
