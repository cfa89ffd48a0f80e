#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace gantry::core {

// A value per thread, for what several threads write on a hot path and one reads now and
// then (counters, queues): a thread writes its own shard under that shard's lock, which no
// other writer takes, so writers share no lock and no cache line; a reader visits every
// shard (ForEach), taking each shard's lock in turn. A thread's shard lives as long as the
// Sharded (a thread that ends leaves its shard, values and all). Thread-safe.
template <class T>
class Sharded {
 public:
  struct Shard {
    std::mutex mu;
    T value;  // guarded by mu
  };

  Sharded() = default;
  Sharded(const Sharded&) = delete;
  Sharded& operator=(const Sharded&) = delete;

  // The calling thread's shard, made at its first call (the only time the shared lock is
  // taken). Lock its `mu` to touch its value.
  Shard& Local() {
    // Which shard this thread has in each Sharded, by the Sharded's id (never reused, so a
    // Sharded made where a destroyed one was is never taken for it).
    thread_local std::vector<std::pair<std::uint64_t, Shard*>> mine;
    for (const auto& [id, shard] : mine) {
      if (id == id_) return *shard;
    }
    std::lock_guard lock(mu_);
    Shard& shard = shards_.emplace_back();
    mine.emplace_back(id_, &shard);
    return shard;
  }

  // Calls f(value) for every shard, each under its lock.
  template <class F>
  void ForEach(F&& f) {
    std::lock_guard lock(mu_);
    for (Shard& shard : shards_) {
      std::lock_guard shard_lock(shard.mu);
      f(shard.value);
    }
  }

 private:
  static std::uint64_t NextId() {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  const std::uint64_t id_ = NextId();
  std::mutex mu_;
  std::deque<Shard> shards_;  // guarded by mu_; a deque, so shards never move
};

}  // namespace gantry::core
