#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/result.h"
#include "pool/pool.h"
#include "pool/stem_cells.h"

namespace gantry::pool {

// What a stem cell's shim answered to POST /_/specialize.
struct SpecializeAnswer {
  bool sent = false;  // the request was written whole (the cell may have started loading)
  int status = 0;     // 0: no answer (refused, no socket, timeout, garbage)
  std::string body;   // at most kSpecializeBodyLimit bytes
};
inline constexpr size_t kSpecializeBodyLimit = 64 * 1024;

// Sends POST /_/specialize to a stem cell. An interface so unit tests run without sockets.
// Implementations are thread-safe.
class Specializer {
 public:
  virtual ~Specializer() = default;
  // Sends `body` (JSON) to the shim at `endpoint` and waits up to `limit` for its answer.
  // Never fails: what happened is in the answer.
  virtual SpecializeAnswer Specialize(const Endpoint& endpoint, const std::string& body,
                                      std::chrono::milliseconds limit) = 0;
};

// The real one: one HTTP/1.1 request over the cell's unix socket, connected to only when it
// is a socket, never through a symlink (core::PinnedSocket: the socket directory is the
// cell's to write). Thread-safe.
class HttpSpecializer final : public Specializer {
 public:
  SpecializeAnswer Specialize(const Endpoint& endpoint, const std::string& body,
                              std::chrono::milliseconds limit) override;
};

// The /_/specialize body for deployment `d` (protocol14.md): env is what a replica's
// container of `d` would get (ReplicaContainerSpec) less the shim's own settings, which go
// in timeout / maxInflight / maxBody; command for exec. Pure.
std::string SpecializeBody(const Deployment& d);

// Copies the deployment's package (d.stem->package_dir: task/ and deps/) into the cell's
// task/ and deps/ directories, hard links where the filesystem allows, copies otherwise.
// kInternal naming the path.
core::Status CopyPackageIntoCell(const std::string& package_dir, const ReplicaPaths& cell);

// The limits `d` asks for that the cell was not created with (all zero: none; no
// UpdateContainer call needed).
docker::ContainerResources LimitsToUpdate(const Deployment& d, const StemCell& cell);

}  // namespace gantry::pool
