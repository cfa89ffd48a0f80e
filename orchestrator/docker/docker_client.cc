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

}  // namespace gantry::docker
