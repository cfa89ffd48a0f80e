#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "pool/function_replicas.h"

namespace gantry::pool {

// The pool's functions by "ns/name". A read-mostly map under a shared_mutex: lookups
// (every Acquire) share it and copy the function's shared_ptr out, so they never wait for
// each other, only for a function being added or dropped. Its lock is a leaf: no other
// lock is taken while it is held, and callers may hold a function's lock while calling
// it. Thread-safe.
class FunctionTable {
 public:
  // The function, or null when unknown (a removed one is returned until Drop).
  std::shared_ptr<FunctionReplicas> Find(const std::string& key) const;
  // Every function, for passes over all of them (the control loop, List).
  std::vector<std::shared_ptr<FunctionReplicas>> Snapshot() const;
  // Adds `fn` under its key unless one is there; returns whichever is there afterwards.
  std::shared_ptr<FunctionReplicas> Insert(std::shared_ptr<FunctionReplicas> fn);
  // Drops the function under `key` if it is marked removed.
  void DropIfRemoved(const std::string& key);

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<FunctionReplicas>> functions_;  // guarded by mu_
};

}  // namespace gantry::pool
