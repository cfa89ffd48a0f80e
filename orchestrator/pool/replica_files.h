#pragma once

#include <map>
#include <string>

#include "core/result.h"
#include "pool/container_spec.h"

namespace gantry::pool {

// Creates a replica's host directory (and the run dir above it when missing): the socket
// directory (mode 0777, so the function's non-root user can create its socket there) and
// one file per secret (mode 0400, owned by `uid` so that user can read it; when chown is
// not allowed, as a non-root gantryd, the file is made 0444 instead). The socket directory
// is the one host path the function can write, so with `socket_dir_bytes` > 0 it is a tmpfs
// of that size (nosuid, nodev, noexec, 16 inodes) mounted here, which needs root; 0 leaves
// it a plain directory. Any earlier content (and mount) is replaced. Errors: kInternal
// naming the path (a failed mount says so, and that it needs root).
core::Status CreateReplicaFiles(const ReplicaPaths& paths,
                                const std::map<std::string, std::string>& secrets, int uid,
                                int64_t socket_dir_bytes);

// Replaces the secret file `name` in the replica's secrets directory with one holding
// `value` (same mode and owner rules as CreateReplicaFiles): written to a temporary file
// in that directory, then renamed over the old one, so a function reading the file (the
// directory is what the container mounts) sees the old value or the new one, whole, and
// the new one from the rename on. Works whether or not the file existed. Errors: kNotFound
// when the replica's secrets directory is gone (the replica was removed meanwhile),
// kInternal naming the path otherwise. Not synchronised: callers serialise writers.
core::Status ReplaceSecretFile(const ReplicaPaths& paths, const std::string& name,
                               const std::string& value, int uid);

// The uid secret files of `d` are written for: -1 (readable by any user) when
// d.secrets_for_any_user, else options.secrets_uid.
inline int SecretsUid(const Deployment& d, const PoolOptions& options) {
  return d.secrets_for_any_user ? -1 : options.secrets_uid;
}

// Removes the replica's host directory and everything in it, unmounting its socket
// directory's tmpfs first; a missing one is fine.
void RemoveReplicaFiles(const ReplicaPaths& paths);

// Lazily unmounts every mount at or below `dir` (deepest first; stacked ones too), so the
// tree can be removed. Nothing mounted (or not allowed to unmount): does nothing.
void UnmountAllBelow(const std::string& dir);

}  // namespace gantry::pool
