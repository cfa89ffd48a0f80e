#pragma once

#include "gateway/backend.h"
#include "pool/pool.h"

namespace gantry::daemon {

// The gateway's InvokeBackend over the pool: a lease becomes a Target whose release gives
// the slot back (or marks the replica failed). Thread-safe, as the pool is.
class PoolBackend final : public gateway::InvokeBackend {
 public:
  explicit PoolBackend(pool::Pool& pool) : pool_(pool) {}
  void Resolve(const std::string& ns, const std::string& name,
               gateway::ResolveCallback done) override;

 private:
  pool::Pool& pool_;
};

}  // namespace gantry::daemon
