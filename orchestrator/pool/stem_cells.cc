#include "pool/stem_cells.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "pool/replica_files.h"

namespace gantry::pool {
namespace {

using LogLevel = core::LogLevel;
using std::chrono::milliseconds;

constexpr milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kTick{1};
constexpr size_t kMaxOwnerBytes = 4096;

}  // namespace

std::string StemTaskDir(const ReplicaPaths& paths) {
  return paths.dir + "/task";
}

std::string StemDepsDir(const ReplicaPaths& paths) {
  return paths.dir + "/deps";
}

std::string StemOwnerPath(const ReplicaPaths& paths) {
  return paths.dir + "/owner";
}

core::Status WriteStemOwner(const ReplicaPaths& paths, const StemOwner& owner) {
  nlohmann::json j = {
      {"namespace", owner.namespace_name}, {"name", owner.name}, {"generation", owner.generation}};
  std::string path = StemOwnerPath(paths);
  std::string temp = path + ".new";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << j.dump();
    if (!out.flush()) return core::Error::Internal(fmt::format("write {}", temp));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return core::Error::Internal(fmt::format("rename {}: {}", path, std::strerror(errno)));
  }
  return core::Ok();
}

std::optional<StemOwner> ReadStemOwner(const ReplicaPaths& paths) {
  std::string path = StemOwnerPath(paths);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<size_t>(st.st_size) <= kMaxOwnerBytes) {
    text.resize(static_cast<size_t>(st.st_size));
    ssize_t n = ::read(fd, text.data(), text.size());
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("namespace") || !j["namespace"].is_string() ||
      !j.contains("name") || !j["name"].is_string() || !j.contains("generation") ||
      !j["generation"].is_number_integer()) {
    return std::nullopt;
  }
  return StemOwner{.namespace_name = j["namespace"].get<std::string>(),
                   .name = j["name"].get<std::string>(),
                   .generation = j["generation"].get<int64_t>()};
}

docker::ContainerSpec StemCellContainerSpec(const std::string& runtime, const std::string& image,
                                            const std::string& key, const ReplicaPaths& paths,
                                            const docker::Labels& extra, int stop_timeout_seconds,
                                            const ContainerLogLimits& logs,
                                            const std::string& network) {
  // A replica's container with the default limits and no function in it: the security
  // defaults and the socket mount come from the one place that states them.
  Deployment generic;
  generic.image = image;
  docker::ContainerSpec spec =
      ReplicaContainerSpec(generic, key, paths, {}, stop_timeout_seconds, logs, network);
  spec.name = fmt::format("gantry-stem-{}-{}", runtime, key);
  spec.labels = extra;
  spec.labels[kStemLabel] = runtime;
  spec.labels[kReplicaLabel] = key;
  // The shim's settings come with /_/specialize; the image's environment says GANTRY_STEM.
  spec.env.clear();
  spec.mounts.push_back({.type = docker::Mount::Type::kBind,
                         .source = StemTaskDir(paths),
                         .target = "/var/task",
                         .read_only = true});
  spec.mounts.push_back({.type = docker::Mount::Type::kBind,
                         .source = StemDepsDir(paths),
                         .target = "/opt/gantry/deps",
                         .read_only = true});
  for (const char* root : {"/var/gantry/secrets", "/var/openfaas/secrets"}) {
    spec.mounts.push_back({.type = docker::Mount::Type::kBind,
                           .source = paths.secrets_dir,
                           .target = root,
                           .read_only = true});
  }
  return spec;
}

StemCells::StemCells(docker::DockerClient& docker, const PoolOptions& options,
                     docker::Labels identity, std::string network, ReadinessProbe& probe,
                     core::Clock& clock, PostFn post)
    : docker_(docker),
      options_(options),
      identity_(std::move(identity)),
      network_(std::move(network)),
      probe_(probe),
      clock_(clock),
      post_(std::move(post)),
      rng_(std::random_device{}()) {}

StemCells::~StemCells() {
  Stop();
}

void StemCells::SetImage(const std::string& runtime, const std::string& image, int count) {
  std::vector<StemCell> stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Runtime& r = runtimes_[runtime];
    if (r.image != image) {
      stale.assign(r.free.begin(), r.free.end());
      r.free.clear();
      r.failures = 0;
      r.retry_after = {};
    }
    r.image = image;
    r.count = std::max(count, 0);
    while (static_cast<int>(r.free.size()) > r.count) {
      stale.push_back(r.free.back());
      r.free.pop_back();
    }
    FillLocked();
  }
  auto self = shared_from_this();
  for (const auto& cell : stale) {
    if (!post_([self, cell] { self->Discard(cell); })) Discard(cell);
  }
}

void StemCells::Enable() {
  std::lock_guard<std::mutex> lock(mu_);
  if (enabled_ || stopped_) return;
  enabled_ = true;
  FillLocked();
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> ticker_lock(mu_);
    while (!stopped_) {
      ticker_cv_.wait_for(ticker_lock, kTick);
      if (!stopped_) FillLocked();
    }
  });
}

void StemCells::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  ticker_cv_.notify_all();
  if (ticker_.joinable() && ticker_.get_id() != std::this_thread::get_id()) ticker_.join();
}

std::optional<StemCell> StemCells::Take(const std::string& runtime) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runtimes_.find(runtime);
  if (it == runtimes_.end() || it->second.free.empty() || stopped_) return std::nullopt;
  StemCell cell = std::move(it->second.free.front());
  it->second.free.pop_front();
  FillLocked();
  return cell;
}

bool StemCells::Died(const std::string& id) {
  std::optional<StemCell> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [runtime, r] : runtimes_) {
      auto it =
          std::find_if(r.free.begin(), r.free.end(), [&](const StemCell& c) { return c.id == id; });
      if (it == r.free.end()) continue;
      dead = std::move(*it);
      r.free.erase(it);
      core::Log(core::LogLevel::kWarn, "pool: free {} stem cell {} died; replacing it", runtime,
                dead->key);
      if (!stopped_) FillLocked();
      break;
    }
  }
  if (!dead) return false;
  Discard(*dead);
  return true;
}

void StemCells::Discard(const StemCell& cell) {
  if (!cell.id.empty()) {
    auto removed = docker_.RemoveContainer(cell.id, {.force = true});
    if (!removed && removed.error().code() != core::ErrorCode::kNotFound) {
      core::Log(LogLevel::kWarn, "pool: remove stem cell {}: {}", cell.id,
                removed.error().ToString());
    }
  }
  RemoveReplicaFiles(cell.paths);
}

std::map<std::string, int> StemCells::FreeCounts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> counts;
  for (const auto& [runtime, r] : runtimes_) counts[runtime] = static_cast<int>(r.free.size());
  return counts;
}

void StemCells::Fill() {
  std::lock_guard<std::mutex> lock(mu_);
  FillLocked();
}

void StemCells::FillLocked() {
  if (!enabled_ || stopped_) return;
  core::SteadyTime now = clock_.Now();
  for (auto& [runtime, r] : runtimes_) {
    if (r.image.empty() || now < r.retry_after) continue;
    // One create at a time after a failure: a broken image costs one container per back-off.
    int limit = r.failures > 0 ? 1 : r.count;
    while (r.creating < limit && static_cast<int>(r.free.size()) + r.creating < r.count) {
      auto self = weak_from_this().lock();
      if (!self) return;
      std::string name = runtime;
      std::string image = r.image;
      if (!post_([self, name, image] { self->CreateTask(name, image); })) return;
      ++r.creating;
    }
  }
}

void StemCells::CreateTask(const std::string& runtime, const std::string& image) {
  StemCell cell;
  cell.runtime = runtime;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cell.key = fmt::format("r{:010x}", rng_() & 0xffffffffffULL);
  }
  cell.paths = PathsFor(options_.run_dir, cell.key);
  cell.endpoint.unix_socket = cell.paths.SocketPath();
  auto fail = [&](const std::string& error) {
    Discard(cell);
    CreateEnded(runtime, image, std::nullopt, error);
  };
  if (auto s = CreateReplicaFiles(cell.paths, {}, options_.secrets_uid, options_.socket_dir_bytes);
      !s) {
    return fail(s.error().message());
  }
  for (const std::string& dir : {StemTaskDir(cell.paths), StemDepsDir(cell.paths)}) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(fmt::format("create {}: {}", dir, std::strerror(errno)));
    }
  }
  auto spec = StemCellContainerSpec(
      runtime, image, cell.key, cell.paths, identity_, options_.stop_timeout_seconds,
      {.max_size = options_.log_max_size, .max_files = options_.log_max_files}, network_);
  auto id = docker_.CreateContainer(spec);
  if (!id) return fail(id.error().ToString());
  cell.id = *id;
  if (auto s = docker_.StartContainer(cell.id); !s) return fail(s.error().ToString());
  auto ready = probe_.WaitReady(cell.endpoint, options_.ready_timeout, [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  });
  if (!ready) return fail(ready.error().message());
  CreateEnded(runtime, image, std::move(cell), "");
}

void StemCells::CreateEnded(const std::string& runtime, const std::string& image,
                            std::optional<StemCell> cell, const std::string& error) {
  std::optional<StemCell> stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Runtime& r = runtimes_[runtime];
    --r.creating;
    if (!cell) {
      ++r.failures;
      milliseconds backoff =
          std::min(milliseconds(1'000 * (int64_t{1} << std::min(r.failures - 1, 5))), kMaxBackoff);
      r.retry_after = clock_.Now() + backoff;
      core::Log(LogLevel::kWarn, "pool: stem cell ({}) failed to start: {} (next in {} ms)",
                runtime, error, backoff.count());
    } else if (stopped_) {
      return;  // left running: a restarted gantryd removes it
    } else if (r.image != image || static_cast<int>(r.free.size()) >= r.count) {
      stale = std::move(cell);
    } else {
      r.failures = 0;
      r.retry_after = {};
      core::Log(LogLevel::kInfo, "pool: stem cell {} ({}) ready ({})", cell->key, runtime,
                cell->id);
      r.free.push_back(std::move(*cell));
    }
    FillLocked();
  }
  if (stale) Discard(*stale);
}

}  // namespace gantry::pool
