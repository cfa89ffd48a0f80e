#include "daemon/pool_backend.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "pool/failure_reason.h"

namespace gantry::daemon {
namespace {

// The pool's last_error says whose failure it was ("replica <key> died: <why>", "replica
// failed to start: <why>"); a caller only needs the why.
std::string_view WithoutReplicaPrefix(std::string_view error) {
  for (std::string_view prefix :
       {std::string_view("replica failed to start: "), std::string_view("replica ")}) {
    if (!error.starts_with(prefix)) continue;
    if (prefix == "replica ") {
      std::size_t colon = error.find(": ");
      if (colon == std::string_view::npos) return error;
      return error.substr(colon + 2);
    }
    return error.substr(prefix.size());
  }
  return error;
}

// The last failure in user terms when the pool has one, else the why of last_error.
std::string LastFailure(const pool::FunctionStatus& s) {
  if (!s.last_failure.empty()) return s.last_failure;
  return std::string(WithoutReplicaPrefix(s.last_error));
}

}  // namespace

gateway::FailureHint HintFromStatus(const pool::FunctionStatus& status,
                                    const std::vector<std::string>& host_dirs) {
  gateway::FailureHint hint;
  hint.serving = status.ready > 0;
  hint.reason = pool::ScrubHostPaths(LastFailure(status), host_dirs);
  hint.last_log_line = pool::ScrubHostPaths(status.last_log_line, host_dirs);
  return hint;
}

PoolBackend::PoolBackend(pool::Pool& pool, std::vector<std::string> host_dirs) : pool_(pool) {
  // Paths in messages are absolute whatever the flags said.
  for (std::string& dir : host_dirs) {
    std::error_code ec;
    auto absolute = std::filesystem::absolute(dir, ec);
    if (!ec) dir = absolute.lexically_normal().string();
  }
  host_dirs_ = std::make_shared<const std::vector<std::string>>(std::move(host_dirs));
}

gateway::FailureHint PoolBackend::Hint(const std::string& ns, const std::string& name) {
  auto status = pool_.Describe(ns, name);
  if (!status) return {};
  return HintFromStatus(*status, *host_dirs_);
}

void PoolBackend::Resolve(const std::string& ns, const std::string& name,
                          gateway::ResolveCallback done) {
  pool_.Acquire(ns, name,
                [dirs = host_dirs_, done = std::move(done)](core::Result<pool::Lease> lease) {
                  if (!lease) {
                    // The pool's words may quote a socket or run directory (a readiness check's
                    // target, a mount that failed): not for callers.
                    done(core::Error(lease.error().code(),
                                     pool::ScrubHostPaths(lease.error().message(), *dirs)));
                    return;
                  }
                  gateway::Target target;
                  const pool::Endpoint& e = lease->endpoint();
                  target.unix_socket = e.unix_socket;
                  target.host = e.host;
                  target.port = e.port;
                  target.timeout = lease->timeout();
                  target.cold_start = lease->cold_start();
                  target.start = std::string(pool::StartPathName(lease->start_path()));
                  target.replica = lease->replica_id();
                  target.generation = lease->generation();
                  target.memory_bytes = lease->memory_bytes();
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
