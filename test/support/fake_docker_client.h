#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "docker/docker_client.h"

namespace gantry::testing {

// An in-memory Docker engine for unit tests: containers are records (created, running,
// paused, stopped), every call is logged, any method can be made to fail, and engine events are
// delivered by hand (Emit) to whoever follows Events(). Networks are records too (a
// container can only be created on one that exists). Images and builds are modelled only
// after ModelImages(); logs are what SetLogs gives. Thread-safe.
class FakeDockerClient final : public docker::DockerClient {
 public:
  struct Container {
    std::string id;
    docker::ContainerSpec spec;
    bool running = false;
    bool paused = false;  // PauseContainer: still running (listed, "paused"); stop/kill end it
    std::map<std::string, int> host_ports;  // "8080/tcp" -> host port
    int exit_code = 0;                      // after Die
    bool oom_killed = false;                // after Die(..., oom = true)
    // What Logs() returns (SetLogs): whole lines as the engine sends them.
    std::vector<std::pair<docker::Stream, std::string>> log;
    // UpdateContainer calls it got, in order.
    std::vector<docker::ContainerResources> updates;
  };

  // Every call so far as "<Method> <argument>", e.g. "CreateContainer gantry-ns-fn-r0123456789".
  std::vector<std::string> calls() const;
  int CountCalls(const std::string& method) const;
  // Containers that exist (any state), by id.
  std::map<std::string, Container> containers() const;
  std::optional<Container> Find(const std::string& id) const;
  int running() const;

  // Makes every later call of `method` ("CreateContainer", "StartContainer", ...) fail with
  // `error`, until cleared with ClearFailure; with `times`, only the next `times` calls.
  void FailCalls(const std::string& method, core::Error error, int times = -1);
  void ClearFailure(const std::string& method);
  // Calls of `method` wait (after being recorded) until Release(method): lets a test act
  // while an engine call is in progress.
  void Hold(const std::string& method);
  void Release(const std::string& method);

  // Marks the container stopped (as if its process exited) and delivers a "die" event with
  // `exit_code` (and an "oom" event before it when `oom`) to the Events follower, on this
  // thread: when it returns, the follower has seen it.
  void Die(const std::string& id, int exit_code = 137, bool oom = false);
  // The container's log from now on: Logs() returns these lines (the last `tail` of them),
  // as given (a test wanting timestamps writes them into the text).
  void SetLogs(const std::string& id, std::vector<std::pair<docker::Stream, std::string>> lines);
  // What CopyFromContainer(id, path) streams from now on for a container of `image` (a tar
  // archive's bytes); a path never set: kNotFound, as the engine answers.
  void SetArchive(const std::string& image, const std::string& path, std::string tar);
  // Delivers `event` to the follower as it is; false when nobody follows Events().
  bool Emit(const docker::Event& event);
  // Waits (up to `limit`) until someone follows Events(); false if nobody did.
  bool WaitForEventsFollower(std::chrono::milliseconds limit = std::chrono::seconds(5));
  // Adds a container as if an earlier process had created and started it.
  std::string AddRunning(const docker::ContainerSpec& spec);
  // Networks that exist, by name.
  std::map<std::string, docker::NetworkInfo> networks() const;

  // Until this is called, InspectImage finds any image and BuildImage/RemoveImage fail.
  // From then on images are records: BuildImage makes one ("sha256:<n>", the build's tags
  // and labels, each created a second after the last), InspectImage and RemoveImage find
  // one by tag or id (kNotFound otherwise), ListImages filters by labels. RemoveImage of a
  // tag the image shares with others removes only the tag; else kConflict while a
  // container was created from it (unless `force`).
  void ModelImages();
  // Adds an image as if it were built (ModelImages on); returns its id.
  std::string AddImage(docker::ImageInfo image);
  std::vector<docker::ImageInfo> images() const;

  core::Status Ping() override;
  core::Result<docker::VersionInfo> Version() override;
  core::Result<docker::EngineInfo> Info() override;
  std::string ApiVersion() const override { return "1.41"; }
  core::Result<std::string> BuildImage(const docker::BuildOptions&, const docker::BodyReader&,
                                       const docker::BuildProgressFn&) override;
  core::Result<docker::ImageInfo> InspectImage(std::string_view name) override;
  core::Result<std::vector<docker::ImageInfo>> ListImages(const docker::LabelSelector&) override;
  core::Status RemoveImage(std::string_view name, bool force) override;
  core::Result<std::string> ImportImage(const docker::ImportOptions&,
                                        const docker::BodyReader&) override;
  core::Result<std::string> CreateContainer(const docker::ContainerSpec& spec) override;
  core::Status StartContainer(std::string_view id) override;
  core::Result<docker::ContainerInfo> InspectContainer(std::string_view id) override;
  core::Status StopContainer(std::string_view id, int timeout_seconds) override;
  core::Status KillContainer(std::string_view id, std::string_view signal) override;
  core::Status RemoveContainer(std::string_view id, const docker::RemoveOptions& options) override;
  core::Status PauseContainer(std::string_view id) override;
  core::Status UnpauseContainer(std::string_view id) override;
  core::Status UpdateContainer(std::string_view id,
                               const docker::ContainerResources& resources) override;
  core::Status CopyFromContainer(std::string_view id, std::string_view path,
                                 const docker::ByteSinkFn& sink) override;
  core::Result<docker::WaitResult> WaitContainer(std::string_view id) override;
  core::Result<std::vector<docker::ContainerSummary>> ListContainers(
      const docker::LabelSelector& labels, bool all) override;
  core::Result<std::string> CreateNetwork(const docker::NetworkSpec& spec) override;
  core::Result<docker::NetworkInfo> InspectNetwork(std::string_view name) override;
  core::Result<std::vector<docker::NetworkInfo>> ListNetworks(
      const docker::LabelSelector& labels) override;
  core::Status RemoveNetwork(std::string_view name) override;
  core::Status Logs(std::string_view id, const docker::LogsOptions& options,
                    const docker::LogLineFn& on_line, std::stop_token stop) override;
  // Follows until `stop` fires: events come from Emit/Die. One follower at a time.
  core::Status Events(const docker::EventsOptions& options, const docker::EventFn& on_event,
                      std::stop_token stop) override;

 private:
  // Records the call; returns the injected failure for `method`, if any. Locks mu_.
  std::optional<core::Error> Enter(const std::string& method, std::string_view argument);
  std::string NewIdLocked();
  std::vector<docker::ImageInfo>::iterator FindImageLocked(std::string_view name);

  mutable std::mutex mu_;
  std::condition_variable released_;  // a held method was released (with mu_)
  std::set<std::string> held_;        // guarded by mu_
  std::condition_variable_any cv_;    // a follower came or went
  std::vector<std::string> calls_;
  struct Failure {
    core::Error error;
    int times;  // < 0: every call
  };
  std::map<std::string, Failure> failures_;
  std::map<std::string, Container> containers_;
  std::map<std::string, docker::NetworkInfo> networks_;                  // by name
  std::map<std::pair<std::string, std::string>, std::string> archives_;  // (image, path)
  bool model_images_ = false;
  std::vector<docker::ImageInfo> images_;
  int64_t next_image_time_ = 1'700'000'000;
  int next_id_ = 1;
  int next_port_ = 40000;
  const docker::EventFn* follower_ = nullptr;
  docker::EventsOptions follower_options_;
  std::mutex emit_mu_;  // one delivery at a time, never under mu_
};

}  // namespace gantry::testing
