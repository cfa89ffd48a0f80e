#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "docker/types.h"

namespace gantry::docker {

// Called with each complete line a container writes (without its '\n'); return false to
// stop reading.
using LogLineFn = std::function<bool(Stream stream, std::string_view line)>;
// Called with each engine event; return false to stop reading.
using EventFn = std::function<bool(const Event& event)>;
// Called with each line of build output (without its '\n').
using BuildProgressFn = std::function<void(std::string_view line)>;

// The part of the Docker Engine API the orchestrator uses. Implementations are
// thread-safe: any method may be called from several threads at once.
//
// Every failure is a core::Error whose message names the call ("POST /containers/create")
// and carries the engine's own message; codes: kNotFound (no such container/image),
// kConflict (name in use, container not running, ...), kInvalidArgument (the engine
// rejected the request), kUnavailable (engine unreachable), kTimeout, kCancelled (the
// stop token fired), kInternal (anything else).
class DockerClient {
 public:
  virtual ~DockerClient() = default;

  // Returns ok when the engine answers GET /_ping.
  virtual core::Status Ping() = 0;
  virtual core::Result<VersionInfo> Version() = 0;
  virtual core::Result<EngineInfo> Info() = 0;
  // The API version every path is pinned to, e.g. "1.41".
  virtual std::string ApiVersion() const = 0;

  // Builds an image from a tar context, passing each line of output to `progress`.
  // Returns the image id ("sha256:..."). A failed step is a kInvalidArgument error naming
  // the step and the engine's message, followed by the last lines of output.
  virtual core::Result<std::string> BuildImage(const BuildOptions& options,
                                               const BodyReader& context,
                                               const BuildProgressFn& progress) = 0;
  virtual core::Result<ImageInfo> InspectImage(std::string_view name) = 0;
  virtual core::Result<std::vector<ImageInfo>> ListImages(const LabelSelector& labels) = 0;
  // Removes an image (and untags it); kNotFound when there is none, kConflict when a
  // container uses it and `force` is false.
  virtual core::Status RemoveImage(std::string_view name, bool force) = 0;
  // Imports a root filesystem tarball as an image; returns the image id.
  virtual core::Result<std::string> ImportImage(const ImportOptions& options,
                                                const BodyReader& rootfs) = 0;

  // Creates a container; returns its id.
  virtual core::Result<std::string> CreateContainer(const ContainerSpec& spec) = 0;
  // Starts it; starting a running container is ok.
  virtual core::Status StartContainer(std::string_view id) = 0;
  virtual core::Result<ContainerInfo> InspectContainer(std::string_view id) = 0;
  // Sends the stop signal, waits up to `timeout_seconds`, then kills. Stopping a stopped
  // container is ok.
  virtual core::Status StopContainer(std::string_view id, int timeout_seconds) = 0;
  // Sends `signal` ("SIGKILL", "SIGTERM", "9"); kConflict when it isn't running.
  virtual core::Status KillContainer(std::string_view id, std::string_view signal) = 0;
  virtual core::Status RemoveContainer(std::string_view id, const RemoveOptions& options) = 0;
  virtual core::Status PauseContainer(std::string_view id) = 0;
  virtual core::Status UnpauseContainer(std::string_view id) = 0;
  // Changes a container's limits (POST /containers/{id}/update); fields left 0 stay as
  // they are. kNotFound for no such container, kInvalidArgument when the engine refuses
  // the values (memory below what is in use, swap below memory). The default
  // implementation (test doubles) answers kInternal "not supported".
  virtual core::Status UpdateContainer(std::string_view id, const ContainerResources& resources);
  // Streams `path` of a container (running or only created) as the tar archive the engine
  // sends (GET /containers/{id}/archive) into `sink`, piece by piece; ok when the stream
  // ended or `sink` returned false. kNotFound when there is no such container or no such
  // path in it. The default implementation answers kInternal "not supported".
  virtual core::Status CopyFromContainer(std::string_view id, std::string_view path,
                                         const ByteSinkFn& sink);
  // Blocks until the container is not running; returns its exit code.
  virtual core::Result<WaitResult> WaitContainer(std::string_view id) = 0;
  // Containers carrying every label in `labels`; `all` includes stopped ones.
  virtual core::Result<std::vector<ContainerSummary>> ListContainers(const LabelSelector& labels,
                                                                     bool all) = 0;

  // Creates a network; returns its id. kConflict when one of that name exists.
  virtual core::Result<std::string> CreateNetwork(const NetworkSpec& spec) = 0;
  // A network by name or id; kNotFound when there is none.
  virtual core::Result<NetworkInfo> InspectNetwork(std::string_view name) = 0;
  // Networks carrying every label in `labels`.
  virtual core::Result<std::vector<NetworkInfo>> ListNetworks(const LabelSelector& labels) = 0;
  // Removes a network; kNotFound when there is none, kConflict (the engine says 403 "has
  // active endpoints") while containers are attached.
  virtual core::Status RemoveNetwork(std::string_view name) = 0;

  // Reads a container's output line by line as it arrives (the multiplexed stream is
  // decoded; nothing is buffered whole). Returns when the stream ends (with follow: when
  // the container stops), when `on_line` returns false, or with kCancelled when `stop`
  // fires. Containers created with a TTY are not supported.
  virtual core::Status Logs(std::string_view id, const LogsOptions& options,
                            const LogLineFn& on_line, std::stop_token stop = {}) = 0;
  // Streams engine events matching `options` as they happen. Returns when `until_unix` is
  // reached, when `on_event` returns false, or with kCancelled when `stop` fires.
  virtual core::Status Events(const EventsOptions& options, const EventFn& on_event,
                              std::stop_token stop = {}) = 0;
};

// client.BuildImage over the tar context `tar`, built once more when the engine lost a
// cached layer mid-build: another build's image removal (a prune, a delete) took away the
// parent of a layer this build used ("unknown parent image ID", or "failed to get digest
// sha256:...: no such file or directory" when the layer went first). Built again, the cache
// is looked up afresh. `on_retry` (may be empty) is told before the second try.
core::Result<std::string> BuildImageFromTar(DockerClient& client, const BuildOptions& options,
                                            const std::string& tar, const BuildProgressFn& progress,
                                            const std::function<void()>& on_retry = {});

}  // namespace gantry::docker
