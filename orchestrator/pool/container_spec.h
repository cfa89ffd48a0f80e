#pragma once

#include <string>

#include "docker/types.h"
#include "pool/pool.h"

namespace gantry::pool {

// The labels that identify a replica's container; a restarted gantryd adopts or removes
// containers by them.
inline constexpr const char* kFunctionLabel = "gantry.function";
inline constexpr const char* kNamespaceLabel = "gantry.namespace";
inline constexpr const char* kGenerationLabel = "gantry.generation";
inline constexpr const char* kReplicaLabel = "gantry.replica";

// Where a replica's host-side files live: `dir` (run_dir/<replica>), the socket directory
// bind-mounted at /run/gantry, and the secrets directory (one file per secret, the
// directory mounted read-only).
struct ReplicaPaths {
  std::string dir;
  std::string socket_dir;   // dir/sock
  std::string secrets_dir;  // dir/secrets
  std::string SocketPath() const { return socket_dir + "/shim.sock"; }
  std::string SecretPath(const std::string& name) const { return secrets_dir + "/" + name; }
};

ReplicaPaths PathsFor(const std::string& run_dir, const std::string& replica);

// "gantry-<namespace>-<name>-<replica>": unique on the engine, readable in `docker ps`.
std::string ContainerName(const Deployment& deployment, const std::string& replica);

// The labels a replica's container carries (`extra` added, never overriding Gantry's own).
docker::Labels ReplicaLabels(const Deployment& deployment, const std::string& replica,
                             const docker::Labels& extra);

// The engine log settings every replica gets (json-file, rotated).
struct ContainerLogLimits {
  std::string max_size = "10m";  // the engine's size syntax: "10m", "512k"
  int max_files = 3;
};

// The container a replica runs as, with the security defaults of DESIGN.md: the image's own
// (non-root) user, no-new-privileges, every capability dropped, read-only root with a tmpfs
// /tmp, the deployment's memory/CPU/pids limits, the replica's secrets directory (when it
// has secrets) bind-mounted read-only at /var/gantry/secrets and /var/openfaas/secrets, so
// the files in it (<name>) can be replaced while the replica runs. The container sits on
// `network` (the pool's bridge network) unless the deployment asks for NetworkAccess::kNone
// (network mode "none": loopback only). A shim replica has its socket directory at
// /run/gantry; an image serving HTTP itself has its port published on 127.0.0.1 only (on
// `network`: an image has no other way in). A shim is told the call timeout, the
// in-flight limit and the request body limit (GANTRY_MAX_BODY). The log is json-file,
// rotated at `logs`. Pure: touches nothing.
docker::ContainerSpec ReplicaContainerSpec(const Deployment& deployment, const std::string& replica,
                                           const ReplicaPaths& paths, const docker::Labels& extra,
                                           int stop_timeout_seconds,
                                           const ContainerLogLimits& logs = {},
                                           const std::string& network = "bridge");

// "30s", "1.5s": a duration as gantry-shim's GANTRY_TIMEOUT reads it.
std::string ShimDuration(std::chrono::milliseconds duration);

}  // namespace gantry::pool
