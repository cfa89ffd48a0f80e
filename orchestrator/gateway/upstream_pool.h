#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gateway {

// A connection to a replica: a unix-socket or TCP stream, one type for both.
using UpstreamSocket = boost::asio::generic::stream_protocol::socket;

// Idle keep-alive connections to replicas, keyed by socket path or "host:port", so a warm
// call usually skips connect(). Bounded per key; a connection the replica has closed in
// the meantime is dropped when taken, and, at most once a second, by Put for every key (so
// the connections of replicas that are gone don't pile up). Thread-safe.
class UpstreamPool {
 public:
  explicit UpstreamPool(std::size_t max_idle_per_key) : max_idle_per_key_(max_idle_per_key) {}

  // An idle connection to `key` that still looks open, or nullopt.
  std::optional<UpstreamSocket> Take(std::string_view key);
  // Keeps `socket` for the next call to `key` (closes it when the key has enough idle).
  void Put(std::string_view key, UpstreamSocket socket);
  // Closes the idle connections that their replica has closed, and forgets empty keys.
  void Prune();
  // Closes every idle connection.
  void Clear();
  std::size_t IdleCount(std::string_view key) const;

 private:
  const std::size_t max_idle_per_key_;
  void PruneLocked();

  mutable std::mutex mu_;
  std::map<std::string, std::vector<UpstreamSocket>, std::less<>> idle_;  // guarded by mu_
  std::chrono::steady_clock::time_point last_prune_;                      // guarded by mu_
};

// True when `socket` has neither been closed by the peer nor has unread bytes waiting
// (either makes it unfit for the next request). Never blocks.
bool LooksReusable(UpstreamSocket& socket);

}  // namespace gantry::gateway
