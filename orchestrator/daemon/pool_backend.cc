#include "daemon/pool_backend.h"

#include <memory>
#include <optional>

namespace gantry::daemon {

void PoolBackend::Resolve(const std::string& ns, const std::string& name,
                          gateway::ResolveCallback done) {
  pool_.Acquire(ns, name, [done = std::move(done)](core::Result<pool::Lease> lease) {
    if (!lease) {
      done(lease.error());
      return;
    }
    gateway::Target target;
    const pool::Endpoint& e = lease->endpoint();
    target.unix_socket = e.unix_socket;
    target.host = e.host;
    target.port = e.port;
    target.timeout = lease->timeout();
    target.cold_start = lease->cold_start();
    target.replica = lease->replica_id();
    target.generation = lease->generation();
    // The Target is copyable, the lease is not: hold it until release.
    auto held = std::make_shared<std::optional<pool::Lease>>(std::move(*lease));
    target.release = [held](bool replica_failed, const std::string& reason) {
      if (!held->has_value()) return;  // released already
      if (replica_failed) (*held)->Fail(reason);
      held->reset();
    };
    done(std::move(target));
  });
}

}  // namespace gantry::daemon
