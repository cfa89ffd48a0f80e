#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/backend.h"
#include "pool/pool.h"

namespace gantry::daemon {

// The gateway's InvokeBackend over the pool: a lease becomes a Target whose release gives
// the slot back (or marks the replica failed), and a failed call's hint comes from the
// pool's status of the function. Messages it hands the gateway never name a host path:
// paths below `host_dirs` (gantryd's state directory) and socket paths are replaced
// (pool::ScrubHostPaths). Thread-safe, as the pool is.
class PoolBackend final : public gateway::InvokeBackend {
 public:
  explicit PoolBackend(pool::Pool& pool, std::vector<std::string> host_dirs = {});
  void Resolve(const std::string& ns, const std::string& name,
               gateway::ResolveCallback done) override;
  // The function's last failure in user terms, its last log line and whether a replica is
  // ready, from Pool::Describe (memory only); empty when the function is unknown.
  gateway::FailureHint Hint(const std::string& ns, const std::string& name) override;

 private:
  pool::Pool& pool_;
  // Shared with Acquire callbacks, which may come late (the pool stopping).
  std::shared_ptr<const std::vector<std::string>> host_dirs_;
};

// The hint for a function in `status`, its host paths replaced (see PoolBackend). Pure.
gateway::FailureHint HintFromStatus(const pool::FunctionStatus& status,
                                    const std::vector<std::string>& host_dirs);

}  // namespace gantry::daemon
