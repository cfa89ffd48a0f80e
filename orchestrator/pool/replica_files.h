#pragma once

#include <map>
#include <string>

#include "core/result.h"
#include "pool/container_spec.h"

namespace gantry::pool {

// Creates a replica's host directory (and the run dir above it when missing): the socket directory (mode 0777, so the function's
// non-root user can create its socket there) and one file per secret (mode 0400, owned by
// `uid` so that user can read it; when chown is not allowed, as a non-root gantryd, the file
// is made 0444 instead). Any earlier content is replaced. Errors: kInternal naming the path.
core::Status CreateReplicaFiles(const ReplicaPaths& paths, const std::map<std::string, std::string>& secrets,
                                int uid);

// Removes the replica's host directory and everything in it; a missing one is fine.
void RemoveReplicaFiles(const ReplicaPaths& paths);

}  // namespace gantry::pool
