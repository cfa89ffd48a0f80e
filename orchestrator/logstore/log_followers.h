#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "docker/docker_client.h"
#include "logstore/log_store.h"
#include "pool/pool.h"

namespace gantry::logstore {

// Feeds a LogStore from the replicas' containers: one thread per replica follows its log
// through the Engine API (docker::DockerClient::Logs, follow and timestamps on) from the
// moment the pool says it is starting until the container's log ends (the container
// stopped or was removed) or this is destroyed. A died replica's last lines (read by the
// pool before removal) are added too, deduplicated against what its follower kept, so a
// replica that dies in its first milliseconds still leaves its output. One thread and one
// engine connection per live replica: meant for tens of replicas (scale.max in the tens
// over a handful of functions), not thousands. Thread-safe.
class LogFollowers {
 public:
  LogFollowers(docker::DockerClient& docker, LogStore& store);
  ~LogFollowers();  // stops every follower and waits for them
  LogFollowers(const LogFollowers&) = delete;
  LogFollowers& operator=(const LogFollowers&) = delete;

  // The pool's on_event sink: kReplicaStarting starts a follower, kReplicaDied adds the
  // event's last_lines. Quick: never waits for the engine.
  void OnEvent(const pool::PoolEvent& event);

  // Follows one replica's log from `since` (epoch: the container's whole log; at most
  // `tail` lines when tail > 0). Nothing when it is already followed.
  void Follow(const std::string& ns, const std::string& name, int64_t generation,
              const std::string& replica, std::chrono::system_clock::time_point since = {},
              int64_t tail = 0);

  // Follows every replica of `functions` (Pool::List(): at start the replicas the pool
  // adopted) not followed before, its container's last `tail` lines and on; forgets
  // replicas no longer listed. Safe to call again and again (a resync).
  void FollowAll(const std::vector<pool::FunctionStatus>& functions, int64_t tail);

  // Calls FollowAll(list(), tail) every `interval` on the returned thread, until it is
  // destroyed (which the caller must do before `list` becomes invalid, and before this
  // is): a safety net for replicas whose kReplicaStarting was not seen (a pool that emits
  // no events, adopted replicas).
  [[nodiscard]] std::jthread ResyncEvery(std::chrono::milliseconds interval,
                                         std::function<std::vector<pool::FunctionStatus>()> list,
                                         int64_t tail);

  // Replicas followed right now (tests).
  std::size_t following() const;

 private:
  struct Follower {
    std::jthread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void ReapFinished();  // mu_ held

  docker::DockerClient& docker_;
  LogStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, Follower> followers_;  // by container id; GUARDED_BY(mu_)
  std::vector<std::jthread> finished_;         // ended threads to join; GUARDED_BY(mu_)
  std::set<std::string> seen_;  // replicas ever followed and still listed; GUARDED_BY(mu_)
  bool stopping_ = false;       // GUARDED_BY(mu_)
};

}  // namespace gantry::logstore
