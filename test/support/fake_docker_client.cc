#include "support/fake_docker_client.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace gantry::testing {
namespace {

core::Error Unsupported(const char* method) {
  return core::Error::Internal(fmt::format("{}: not modelled by FakeDockerClient", method));
}

bool Matches(const docker::Labels& labels, const docker::LabelSelector& selector) {
  for (const auto& s : selector) {
    auto eq = s.find('=');
    auto it = labels.find(s.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != s.substr(eq + 1)) return false;
  }
  return true;
}

}  // namespace

std::optional<core::Error> FakeDockerClient::Enter(const std::string& method,
                                                   std::string_view argument) {
  std::unique_lock<std::mutex> lock(mu_);
  calls_.push_back(fmt::format("{} {}", method, argument));
  released_.wait(lock, [&] { return held_.count(method) == 0; });
  auto it = failures_.find(method);
  if (it == failures_.end()) return std::nullopt;
  core::Error error = it->second.error;
  if (it->second.times > 0 && --it->second.times == 0) failures_.erase(it);
  return error;
}

std::string FakeDockerClient::NewIdLocked() {
  return fmt::format("{:064x}", next_id_++);
}

std::vector<std::string> FakeDockerClient::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

int FakeDockerClient::CountCalls(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(calls_.begin(), calls_.end(), [&](const std::string& c) {
    return c.compare(0, method.size() + 1, method + " ") == 0;
  }));
}

std::map<std::string, FakeDockerClient::Container> FakeDockerClient::containers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return containers_;
}

std::optional<FakeDockerClient::Container> FakeDockerClient::Find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  return it->second;
}

int FakeDockerClient::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(containers_.begin(), containers_.end(),
                                        [](const auto& c) { return c.second.running; }));
}

void FakeDockerClient::FailCalls(const std::string& method, core::Error error, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.insert_or_assign(method, Failure{std::move(error), times});
}

void FakeDockerClient::Hold(const std::string& method) {
  std::lock_guard<std::mutex> lock(mu_);
  held_.insert(method);
}

void FakeDockerClient::Release(const std::string& method) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(method);
  }
  released_.notify_all();
}

void FakeDockerClient::ClearFailure(const std::string& method) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(method);
}

std::string FakeDockerClient::AddRunning(const docker::ContainerSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  Container c{.id = NewIdLocked(), .spec = spec, .running = true};
  for (const auto& p : spec.ports)
    c.host_ports[fmt::format("{}/tcp", p.container_port)] = next_port_++;
  containers_[c.id] = c;
  return c.id;
}

void FakeDockerClient::Die(const std::string& id, int exit_code, bool oom) {
  docker::Labels labels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    it->second.running = false;
    it->second.paused = false;
    it->second.exit_code = exit_code;
    it->second.oom_killed = oom;
    labels = it->second.spec.labels;
  }
  docker::Event event{.type = "container", .action = "oom", .id = id, .attributes = labels};
  if (oom) Emit(event);
  event.action = "die";
  event.attributes["exitCode"] = std::to_string(exit_code);
  Emit(event);
}

void FakeDockerClient::SetLogs(const std::string& id,
                               std::vector<std::pair<docker::Stream, std::string>> lines) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it != containers_.end()) it->second.log = std::move(lines);
}

bool FakeDockerClient::Emit(const docker::Event& event) {
  std::lock_guard<std::mutex> delivering(emit_mu_);
  const docker::EventFn* follower = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    follower = follower_;
    if (follower == nullptr) return false;
    const auto& o = follower_options_;
    if (!Matches(event.attributes, o.labels)) return true;
    if (!o.types.empty() && std::find(o.types.begin(), o.types.end(), event.type) == o.types.end())
      return true;
    if (!o.actions.empty() &&
        std::find(o.actions.begin(), o.actions.end(), event.action) == o.actions.end()) {
      return true;
    }
  }
  // The follower stays registered while emit_mu_ is held (Events waits for it to leave).
  (*follower)(event);
  return true;
}

bool FakeDockerClient::WaitForEventsFollower(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return follower_ != nullptr; });
}

core::Status FakeDockerClient::Ping() {
  if (auto e = Enter("Ping", "")) return *e;
  return core::Ok();
}

core::Result<docker::VersionInfo> FakeDockerClient::Version() {
  if (auto e = Enter("Version", "")) return *e;
  return docker::VersionInfo{.version = "fake", .api_version = "1.41", .min_api_version = "1.12"};
}

core::Result<docker::EngineInfo> FakeDockerClient::Info() {
  if (auto e = Enter("Info", "")) return *e;
  return docker::EngineInfo{.name = "fake"};
}

void FakeDockerClient::ModelImages() {
  std::lock_guard<std::mutex> lock(mu_);
  model_images_ = true;
}

std::string FakeDockerClient::AddImage(docker::ImageInfo image) {
  std::lock_guard<std::mutex> lock(mu_);
  if (image.id.empty()) image.id = "sha256:" + NewIdLocked();
  if (image.created_unix == 0) image.created_unix = next_image_time_++;
  images_.push_back(image);
  return image.id;
}

std::vector<docker::ImageInfo> FakeDockerClient::images() const {
  std::lock_guard<std::mutex> lock(mu_);
  return images_;
}

std::vector<docker::ImageInfo>::iterator FakeDockerClient::FindImageLocked(std::string_view name) {
  return std::find_if(images_.begin(), images_.end(), [&](const docker::ImageInfo& i) {
    return i.id == name ||
           std::find(i.repo_tags.begin(), i.repo_tags.end(), name) != i.repo_tags.end();
  });
}

core::Result<std::string> FakeDockerClient::BuildImage(const docker::BuildOptions& options,
                                                       const docker::BodyReader&,
                                                       const docker::BuildProgressFn&) {
  if (auto e = Enter("BuildImage", "")) return *e;
  if (!model_images_) return Unsupported("BuildImage");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& image : images_) {  // a tag moves to the new image
    std::erase_if(image.repo_tags, [&](const std::string& t) {
      return std::find(options.tags.begin(), options.tags.end(), t) != options.tags.end();
    });
  }
  docker::ImageInfo image{
      .id = "sha256:" + NewIdLocked(), .repo_tags = options.tags, .labels = options.labels};
  image.created_unix = next_image_time_++;
  images_.push_back(image);
  return image.id;
}

core::Result<docker::ImageInfo> FakeDockerClient::InspectImage(std::string_view name) {
  if (auto e = Enter("InspectImage", name)) return *e;
  if (!model_images_)
    return docker::ImageInfo{.id = "sha256:fake", .repo_tags = {std::string(name)}};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = FindImageLocked(name);
  if (it == images_.end())
    return core::Error::NotFound(fmt::format("GET /images/{}/json: no such image", name));
  return *it;
}

core::Result<std::vector<docker::ImageInfo>> FakeDockerClient::ListImages(
    const docker::LabelSelector& selector) {
  if (auto e = Enter("ListImages", "")) return *e;
  std::vector<docker::ImageInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& image : images_) {
    if (Matches(image.labels, selector)) out.push_back(image);
  }
  return out;
}

core::Status FakeDockerClient::RemoveImage(std::string_view name, bool force) {
  if (auto e = Enter("RemoveImage", name)) return *e;
  if (!model_images_) return Unsupported("RemoveImage");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = FindImageLocked(name);
  if (it == images_.end())
    return core::Error::NotFound(fmt::format("DELETE /images/{}: no such image", name));
  bool by_tag = it->id != name;
  if (by_tag && it->repo_tags.size() > 1) {
    std::erase(it->repo_tags, std::string(name));
    return core::Ok();
  }
  for (const auto& [id, c] : containers_) {
    bool uses = c.spec.image == it->id || std::find(it->repo_tags.begin(), it->repo_tags.end(),
                                                    c.spec.image) != it->repo_tags.end();
    if (uses && !force) {
      return core::Error::Conflict(
          fmt::format("DELETE /images/{}: image is being used by container {}", name, id));
    }
  }
  images_.erase(it);
  return core::Ok();
}

core::Result<std::string> FakeDockerClient::ImportImage(const docker::ImportOptions&,
                                                        const docker::BodyReader&) {
  Enter("ImportImage", "");
  return Unsupported("ImportImage");
}

core::Result<std::string> FakeDockerClient::CreateContainer(const docker::ContainerSpec& spec) {
  if (auto e = Enter("CreateContainer", spec.name)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, c] : containers_) {
    if (!spec.name.empty() && c.spec.name == spec.name) {
      return core::Error::Conflict(
          fmt::format("POST /containers/create: name {} in use", spec.name));
    }
  }
  const std::string& mode = spec.network_mode;
  if (!mode.empty() && mode != "none" && mode != "bridge" && mode != "host" &&
      networks_.count(mode) == 0) {
    return core::Error::NotFound(
        fmt::format("POST /containers/create: network {} not found", mode));
  }
  Container c{.id = NewIdLocked(), .spec = spec};
  containers_[c.id] = c;
  return c.id;
}

std::map<std::string, docker::NetworkInfo> FakeDockerClient::networks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return networks_;
}

core::Result<std::string> FakeDockerClient::CreateNetwork(const docker::NetworkSpec& spec) {
  if (auto e = Enter("CreateNetwork", spec.name)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  if (networks_.count(spec.name) > 0) {
    return core::Error::Conflict(
        fmt::format("POST /networks/create: network with name {} already exists", spec.name));
  }
  docker::NetworkInfo n{.id = NewIdLocked(),
                        .name = spec.name,
                        .driver = spec.driver,
                        .labels = spec.labels,
                        .options = spec.options,
                        .internal = spec.internal,
                        .subnets = {fmt::format("172.{}.0.0/16", 17 + networks_.size())},
                        .gateways = {fmt::format("172.{}.0.1", 17 + networks_.size())}};
  networks_[spec.name] = n;
  return n.id;
}

core::Result<docker::NetworkInfo> FakeDockerClient::InspectNetwork(std::string_view name) {
  if (auto e = Enter("InspectNetwork", name)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [n, info] : networks_) {
    if (n == name || info.id == name) {
      docker::NetworkInfo out = info;
      for (const auto& [id, c] : containers_) {
        if (c.running && c.spec.network_mode == n) out.containers[id] = "";
      }
      return out;
    }
  }
  return core::Error::NotFound(fmt::format("GET /networks/{}: network {} not found", name, name));
}

core::Result<std::vector<docker::NetworkInfo>> FakeDockerClient::ListNetworks(
    const docker::LabelSelector& labels) {
  if (auto e = Enter("ListNetworks", fmt::format("{}", fmt::join(labels, ",")))) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<docker::NetworkInfo> out;
  for (const auto& [name, n] : networks_) {
    if (Matches(n.labels, labels)) out.push_back(n);
  }
  return out;
}

core::Status FakeDockerClient::RemoveNetwork(std::string_view name) {
  if (auto e = Enter("RemoveNetwork", name)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = networks_.find(std::string(name));
  if (it == networks_.end())
    return core::Error::NotFound(fmt::format("network {} not found", name));
  for (const auto& [id, c] : containers_) {
    if (c.spec.network_mode == it->first) {
      return core::Error::Conflict(fmt::format("network {} has active endpoints", name));
    }
  }
  networks_.erase(it);
  return core::Ok();
}

core::Status FakeDockerClient::StartContainer(std::string_view id) {
  if (auto e = Enter("StartContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  it->second.running = true;
  for (const auto& p : it->second.spec.ports) {
    it->second.host_ports[fmt::format("{}/tcp", p.container_port)] = next_port_++;
  }
  return core::Ok();
}

core::Result<docker::ContainerInfo> FakeDockerClient::InspectContainer(std::string_view id) {
  if (auto e = Enter("InspectContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  const Container& c = it->second;
  docker::ContainerInfo info{
      .id = c.id, .name = c.spec.name, .image = c.spec.image, .labels = c.spec.labels};
  info.state.running = c.running;
  info.state.status = c.paused ? "paused" : c.running ? "running" : "exited";
  info.state.paused = c.paused;
  info.state.exit_code = c.exit_code;
  info.state.oom_killed = c.oom_killed;
  info.host_ports = c.host_ports;
  info.network_mode = c.spec.network_mode;
  return info;
}

core::Status FakeDockerClient::StopContainer(std::string_view id, int) {
  if (auto e = Enter("StopContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  it->second.running = false;
  it->second.paused = false;
  return core::Ok();
}

core::Status FakeDockerClient::KillContainer(std::string_view id, std::string_view) {
  if (auto e = Enter("KillContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  if (!it->second.running)
    return core::Error::Conflict(fmt::format("container {} is not running", id));
  it->second.running = false;
  it->second.paused = false;
  return core::Ok();
}

core::Status FakeDockerClient::RemoveContainer(std::string_view id,
                                               const docker::RemoveOptions& options) {
  if (auto e = Enter("RemoveContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  if (it->second.running && !options.force) {
    return core::Error::Conflict(fmt::format("container {} is running: stop it or force", id));
  }
  containers_.erase(it);
  return core::Ok();
}

// As the engine: kConflict when not running (pause) or not paused (unpause).
core::Status FakeDockerClient::PauseContainer(std::string_view id) {
  if (auto e = Enter("PauseContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  if (!it->second.running || it->second.paused) {
    return core::Error::Conflict(fmt::format("container {} is not running or already paused", id));
  }
  it->second.paused = true;
  return core::Ok();
}

core::Status FakeDockerClient::UnpauseContainer(std::string_view id) {
  if (auto e = Enter("UnpauseContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end())
    return core::Error::NotFound(fmt::format("no such container: {}", id));
  if (!it->second.paused) {
    return core::Error::Conflict(fmt::format("container {} is not paused", id));
  }
  it->second.paused = false;
  return core::Ok();
}

core::Status FakeDockerClient::UpdateContainer(std::string_view id,
                                               const docker::ContainerResources& resources) {
  if (auto e = Enter("UpdateContainer", id)) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) {
    return core::Error::NotFound(fmt::format("POST /containers/{}/update: no such container", id));
  }
  it->second.updates.push_back(resources);
  if (resources.memory_bytes > 0) it->second.spec.memory_bytes = resources.memory_bytes;
  if (resources.nano_cpus > 0) it->second.spec.nano_cpus = resources.nano_cpus;
  if (resources.pids_limit > 0) it->second.spec.pids_limit = resources.pids_limit;
  return core::Ok();
}

void FakeDockerClient::SetArchive(const std::string& image, const std::string& path,
                                  std::string tar) {
  std::lock_guard<std::mutex> lock(mu_);
  archives_[{image, path}] = std::move(tar);
}

core::Status FakeDockerClient::CopyFromContainer(std::string_view id, std::string_view path,
                                                 const docker::ByteSinkFn& sink) {
  if (auto e = Enter("CopyFromContainer", fmt::format("{} {}", id, path))) return *e;
  std::string tar;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) {
      return core::Error::NotFound(
          fmt::format("GET /containers/{}/archive: no such container", id));
    }
    auto a = archives_.find({it->second.spec.image, std::string(path)});
    if (a == archives_.end()) {
      return core::Error::NotFound(
          fmt::format("GET /containers/{}/archive: no such path {}", id, path));
    }
    tar = a->second;
  }
  // In pieces, as the engine's stream comes.
  for (size_t at = 0; at < tar.size(); at += 4096) {
    if (!sink(std::string_view(tar).substr(at, 4096))) break;
  }
  return core::Ok();
}

core::Result<docker::WaitResult> FakeDockerClient::WaitContainer(std::string_view id) {
  Enter("WaitContainer", id);
  return Unsupported("WaitContainer");
}

core::Result<std::vector<docker::ContainerSummary>> FakeDockerClient::ListContainers(
    const docker::LabelSelector& labels, bool all) {
  if (auto e = Enter("ListContainers", fmt::format("{}", fmt::join(labels, ",")))) return *e;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<docker::ContainerSummary> out;
  for (const auto& [id, c] : containers_) {
    if (!Matches(c.spec.labels, labels) || (!all && !c.running)) continue;
    out.push_back({.id = id,
                   .name = c.spec.name,
                   .image = c.spec.image,
                   .state = c.paused    ? "paused"
                            : c.running ? "running"
                                        : "exited",
                   .labels = c.spec.labels,
                   .network_mode = c.spec.network_mode});
  }
  return out;
}

core::Status FakeDockerClient::Logs(std::string_view id, const docker::LogsOptions& options,
                                    const docker::LogLineFn& on_line, std::stop_token) {
  if (auto e = Enter("Logs", id)) return *e;
  std::vector<std::pair<docker::Stream, std::string>> lines;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) return core::Ok();  // nothing to tell
    lines = it->second.log;
  }
  size_t first = 0;
  if (options.tail && static_cast<size_t>(*options.tail) < lines.size()) {
    first = lines.size() - static_cast<size_t>(*options.tail);
  }
  for (size_t i = first; i < lines.size(); ++i) {
    if (!on_line(lines[i].first, lines[i].second)) break;
  }
  return core::Ok();
}

core::Status FakeDockerClient::Events(const docker::EventsOptions& options,
                                      const docker::EventFn& on_event, std::stop_token stop) {
  if (auto e = Enter("Events", "")) return *e;
  std::unique_lock<std::mutex> lock(mu_);
  if (follower_ != nullptr)
    return core::Error::Conflict("FakeDockerClient: one Events follower at a time");
  follower_ = &on_event;
  follower_options_ = options;
  cv_.notify_all();
  cv_.wait(lock, stop, [] { return false; });
  follower_ = nullptr;
  lock.unlock();
  // An Emit in progress still uses on_event: wait for it to finish.
  std::lock_guard<std::mutex> delivering(emit_mu_);
  return core::Error::Cancelled("GET /events: stopped");
}

}  // namespace gantry::testing
