#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "docker/docker_client.h"
#include "pool/container_spec.h"
#include "pool/pool.h"
#include "pool/readiness.h"

namespace gantry::pool {

// The label a stem cell's container carries: its template runtime ("python3", "node",
// "exec"). A specialised cell keeps it (labels can't change) and never gets gantry.function:
// its owner is in the owner marker (StemOwner), which only gantryd can write.
inline constexpr const char* kStemLabel = "gantry.stem";

// One stem cell: a running container of a runtime's stem image whose shim answered
// /_/ready, belonging to no function yet. Its host directory (`paths.dir`, named like a
// replica's, under run_dir) holds sock/ (mounted at /run/gantry), task/ (/var/task, ro),
// deps/ (/opt/gantry/deps, ro), secrets/ (the secrets mounts, ro), all empty until a start
// specialises it, and later the owner marker (outside every mounted directory).
struct StemCell {
  std::string runtime;
  std::string key;  // the gantry.replica label; names the directory and the container
  std::string id;   // container id
  ReplicaPaths paths;
  Endpoint endpoint;  // the shim's socket
  // The limits it was created with (pool/defaults.h): a deployment asking for others gets
  // an UpdateContainer call.
  int64_t memory_bytes = kDefaultMemoryBytes;
  int64_t nano_cpus = kDefaultNanoCpus;
  int64_t pids_limit = kDefaultPidsLimit;
};

std::string StemTaskDir(const ReplicaPaths& paths);    // dir/task
std::string StemDepsDir(const ReplicaPaths& paths);    // dir/deps
std::string StemOwnerPath(const ReplicaPaths& paths);  // dir/owner

// Whom a specialised cell belongs to, as its owner marker says.
struct StemOwner {
  std::string namespace_name;
  std::string name;
  int64_t generation = 0;
};
// Writes the marker (a temporary file renamed over it). kInternal naming the path.
core::Status WriteStemOwner(const ReplicaPaths& paths, const StemOwner& owner);
// Reads it; nullopt when missing or not a marker (a regular file only, never a link).
std::optional<StemOwner> ReadStemOwner(const ReplicaPaths& paths);

// The container a stem cell runs as: the stem image with its own environment and user,
// the security defaults and log limits of a replica (ReplicaContainerSpec), the default
// limits, on `network`, with the four directories of StemCell mounted. Labelled
// kStemLabel=<runtime>, gantry.replica=<key> and `extra` (the pool's identity), never
// gantry.function. Pure.
docker::ContainerSpec StemCellContainerSpec(const std::string& runtime, const std::string& image,
                                            const std::string& key, const ReplicaPaths& paths,
                                            const docker::Labels& extra, int stop_timeout_seconds,
                                            const ContainerLogLimits& logs,
                                            const std::string& network);

// The free stem cells of every template runtime, kept at their count in the background:
// creates (files, create, start, readiness) run as tasks posted through `post` (the
// lifecycle's task threads), never more at once than a runtime's missing cells; a failing
// create backs off (1 s doubling to 30 s) before the next, and a ticker thread (once a
// second) retries once the back-off ended. Nothing is created before Enable() (Pool::Start
// has removed what an earlier gantryd left). Take hands a cell out once, for good.
// Thread-safe; its lock is a leaf (taken under a function's mu by nobody: Take runs on
// task threads).
class StemCells : public std::enable_shared_from_this<StemCells> {
 public:
  using PostFn = std::function<bool(std::function<void()>)>;
  StemCells(docker::DockerClient& docker, const PoolOptions& options, docker::Labels identity,
            std::string network, ReadinessProbe& probe, core::Clock& clock, PostFn post);
  ~StemCells();
  StemCells(const StemCells&) = delete;
  StemCells& operator=(const StemCells&) = delete;

  // From now on `runtime`'s cells run `image`, `count` of them free (0: none; free cells
  // of another image are removed). Starts filling once enabled.
  void SetImage(const std::string& runtime, const std::string& image, int count);
  // Starts filling (and the ticker).
  void Enable();
  // No more creates; free cells are left running (a restarted gantryd removes them).
  void Stop();
  // A free ready cell of `runtime`, out of the free set for good (never handed out
  // again), and a create posted to replace it; nullopt when none is free.
  std::optional<StemCell> Take(const std::string& runtime);
  // Removes a cell's container and directory (a taken cell that could not be used); on
  // the calling thread.
  void Discard(const StemCell& cell);
  // The container `id` died: if it is a free cell, it leaves the free set (removed, on the
  // calling thread) and a create is posted to replace it. False when it is none of ours.
  bool Died(const std::string& id);
  // Free cells per runtime (the gantry_stem_cells gauge).
  std::map<std::string, int> FreeCounts() const;
  // Posts the creates that are due (what the ticker does every second).
  void Fill();

 private:
  struct Runtime {
    std::string image;
    int count = 0;
    int creating = 0;
    std::deque<StemCell> free;
    int failures = 0;  // in a row
    core::SteadyTime retry_after{};
  };
  void FillLocked();
  void CreateTask(const std::string& runtime, const std::string& image);
  // A create ended: `cell` is free now, or it failed (`error`).
  void CreateEnded(const std::string& runtime, const std::string& image,
                   std::optional<StemCell> cell, const std::string& error);

  docker::DockerClient& docker_;
  const PoolOptions& options_;
  const docker::Labels identity_;
  const std::string network_;
  ReadinessProbe& probe_;
  core::Clock& clock_;
  const PostFn post_;

  mutable std::mutex mu_;
  std::map<std::string, Runtime> runtimes_;  // guarded by mu_
  bool enabled_ = false;                     // guarded by mu_
  bool stopped_ = false;                     // guarded by mu_
  std::mt19937_64 rng_;                      // guarded by mu_
  std::condition_variable ticker_cv_;
  std::thread ticker_;
};

}  // namespace gantry::pool
