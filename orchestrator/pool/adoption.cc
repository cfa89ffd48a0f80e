#include "pool/adoption.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/log.h"
#include "pool/container_spec.h"
#include "pool/replica_files.h"
#include "pool/stem_cells.h"

namespace gantry::pool {
namespace {

namespace fs = std::filesystem;
using LogLevel = core::LogLevel;

constexpr std::chrono::milliseconds kAdoptProbeLimit{2'000};

std::string Key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

// Paused (scale.pauseAfter) by the gantryd before: running again, then probed like the
// others. Not unpaused: removed (a forced removal of a paused container works).
bool UnpauseToAdopt(docker::DockerClient& docker, const std::string& id) {
  auto unpaused = docker.UnpauseContainer(id);
  if (!unpaused) {
    core::Log(LogLevel::kWarn, "pool: unpause {} to adopt it: {}", id, unpaused.error().ToString());
  }
  return unpaused.ok();
}

}  // namespace

bool IsReplicaKey(const std::string& s) {
  if (s.size() != 11 || s[0] != 'r') return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

core::Result<std::vector<AdoptedReplica>> AdoptOrRemoveContainers(
    ReplicaLifecycle& lifecycle, const std::vector<Deployment>& current) {
  docker::DockerClient& docker = lifecycle.docker();
  const PoolOptions& options = lifecycle.options();
  auto containers = docker.ListContainers(lifecycle.Selector(), /*all=*/true);
  if (!containers) return containers.error().WithContext("pool start: list replicas");
  std::map<std::string, const Deployment*> wanted;
  for (const auto& d : current) wanted[Key(d.namespace_name, d.name)] = &d;

  core::SteadyTime now = lifecycle.clock().Now();
  std::vector<AdoptedReplica> adopted;
  std::set<std::string> kept_dirs;
  for (const auto& c : *containers) {
    auto label = [&](const char* name) {
      auto it = c.labels.find(name);
      return it == c.labels.end() ? std::string() : it->second;
    };
    std::string key = Key(label(kNamespaceLabel), label(kFunctionLabel));
    std::string generation = label(kGenerationLabel);
    std::string replica_key = label(kReplicaLabel);
    // A stem cell's owner is in its marker (written by gantryd once it was specialised,
    // outside what the cell mounts); a free cell has none and goes.
    bool stem = c.labels.count(kStemLabel) > 0;
    if (stem) {
      std::optional<StemOwner> owner;
      if (IsReplicaKey(replica_key)) owner = ReadStemOwner(PathsFor(options.run_dir, replica_key));
      key = owner ? Key(owner->namespace_name, owner->name) : std::string();
      generation = owner ? std::to_string(owner->generation) : std::string();
    }
    auto d = wanted.find(key);
    bool adopt = d != wanted.end() && generation == std::to_string(d->second->generation) &&
                 (c.state == "running" || c.state == "paused") && IsReplicaKey(replica_key) &&
                 c.network_mode == lifecycle.ExpectedNetworkMode(*d->second);
    if (adopt && c.state == "paused") adopt = UnpauseToAdopt(docker, c.id);
    auto replica = std::make_shared<Replica>();
    if (adopt) {
      const Deployment& dep = *d->second;
      replica->key = replica_key;
      replica->id = c.id;
      replica->generation = dep.generation;
      replica->slots = std::max(dep.concurrency, 1);
      replica->paths = PathsFor(options.run_dir, replica_key);
      replica->from_stem_cell = stem;
      if (dep.http_port > 0) {
        auto info = docker.InspectContainer(c.id);
        auto port = info ? info->host_ports.find(std::to_string(dep.http_port) + "/tcp")
                         : std::map<std::string, int>::const_iterator();
        adopt = info && port != info->host_ports.end();
        if (adopt) replica->endpoint.port = port->second;
      } else {
        replica->endpoint.unix_socket = replica->paths.SocketPath();
      }
      adopt = adopt && lifecycle.probe().WaitReady(
                           replica->endpoint, std::min(kAdoptProbeLimit, options.ready_timeout),
                           [&] { return lifecycle.stopping(); });
    }
    if (adopt) {
      replica->state = ReplicaState::kReady;
      replica->last_used = now;
      replica->ready_at = now;
      replica->started = std::chrono::system_clock::now();
      kept_dirs.insert(replica_key);
      adopted.push_back({key, replica});
      core::Log(LogLevel::kInfo, "pool: {} adopted replica {} ({})", key, replica_key, c.id);
    } else {
      auto removed = docker.RemoveContainer(c.id, {.force = true});
      if (!removed && removed.error().code() != core::ErrorCode::kNotFound) {
        core::Log(LogLevel::kWarn, "pool: remove {}: {}", c.id, removed.error().ToString());
      }
      if (IsReplicaKey(replica_key)) RemoveReplicaFiles(PathsFor(options.run_dir, replica_key));
      core::Log(LogLevel::kInfo, "pool: removed {} {} ({} generation {}, {})",
                stem ? "stem cell" : "container", c.id, key, generation, c.state);
    }
  }
  // Directories of replicas that are gone (only ones named like ours).
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.run_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (IsReplicaKey(name) && kept_dirs.count(name) == 0) {
      RemoveReplicaFiles(PathsFor(options.run_dir, name));
    }
  }
  return adopted;
}

}  // namespace gantry::pool
