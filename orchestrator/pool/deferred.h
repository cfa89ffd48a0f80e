#pragma once

#include <functional>
#include <vector>

namespace gantry::pool {

// Work decided under a function's lock and done after it is released: callers' callbacks
// may call back into the pool (or drop a Lease, which gives a slot back). Not thread-safe:
// one list belongs to one call.
using Deferred = std::vector<std::function<void()>>;

inline void RunDeferred(Deferred& deferred) {
  for (auto& f : deferred) f();
  deferred.clear();
}

}  // namespace gantry::pool
