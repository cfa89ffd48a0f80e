#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

namespace gantry::daemon {

// Merges log lines of several replicas by time while keeping only the newest ones that fit
// in `max_bytes`: memory stays bounded by max_bytes (plus one line) however long the logs
// read are. Lines are added in any order (one replica after another); Take() returns the
// kept ones oldest first. Timestamps are RFC 3339 with nanoseconds as the engine writes
// them, which sort as text; equal stamps keep the order they were added in. Not
// thread-safe (one per logs request).
class BoundedLogMerge {
 public:
  explicit BoundedLogMerge(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Adds one line (`entry` is what Take() returns for it, without the '\n'), then drops
  // the oldest lines while the kept ones are over max_bytes.
  void Add(std::string timestamp, std::string entry);

  // The kept entries, oldest first, each followed by '\n'; leaves this empty.
  std::string Take();

  std::size_t bytes() const { return bytes_; }       // of the kept entries, '\n' included
  std::size_t size() const { return heap_.size(); }  // kept entries
  int64_t dropped() const { return dropped_; }       // lines dropped to stay within max_bytes
  // The oldest kept timestamp ("" when empty).
  const std::string& oldest() const;

 private:
  using Item = std::tuple<std::string, uint64_t, std::string>;  // timestamp, order added, entry
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  uint64_t added_ = 0;
  int64_t dropped_ = 0;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap_;  // oldest on top
};

}  // namespace gantry::daemon
