#include "pool/container_spec.h"

#include <fmt/format.h>

namespace gantry::pool {
namespace {

constexpr const char* kSocketMount = "/run/gantry";
constexpr int64_t kTmpfsBytes = 64LL << 20;

}  // namespace

ReplicaPaths PathsFor(const std::string& run_dir, const std::string& replica) {
  ReplicaPaths p;
  p.dir = run_dir + "/" + replica;
  p.socket_dir = p.dir + "/sock";
  p.secrets_dir = p.dir + "/secrets";
  return p;
}

std::string ContainerName(const Deployment& deployment, const std::string& replica) {
  return fmt::format("gantry-{}-{}-{}", deployment.namespace_name, deployment.name, replica);
}

docker::Labels ReplicaLabels(const Deployment& deployment, const std::string& replica,
                             const docker::Labels& extra) {
  docker::Labels labels = extra;
  labels[kFunctionLabel] = deployment.name;
  labels[kNamespaceLabel] = deployment.namespace_name;
  labels[kGenerationLabel] = std::to_string(deployment.generation);
  labels[kReplicaLabel] = replica;
  return labels;
}

std::string ShimDuration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return fmt::format("{}s", duration.count() / 1000);
  return fmt::format("{}ms", duration.count());
}

docker::ContainerSpec ReplicaContainerSpec(const Deployment& deployment, const std::string& replica,
                                           const ReplicaPaths& paths, const docker::Labels& extra,
                                           int stop_timeout_seconds, const ContainerLogLimits& logs,
                                           const std::string& network) {
  docker::ContainerSpec spec;
  spec.name = ContainerName(deployment, replica);
  spec.image = deployment.image;
  spec.labels = ReplicaLabels(deployment, replica, extra);
  for (const auto& [key, value] : deployment.env) spec.env.push_back(key + "=" + value);
  if (deployment.http_port == 0) {
    // The shim enforces the call timeout and the in-flight limit itself; the pool's slot
    // count and the shim's limit are the same number.
    spec.env.push_back("GANTRY_TIMEOUT=" + ShimDuration(deployment.timeout));
    spec.env.push_back("GANTRY_MAX_INFLIGHT=" + std::to_string(deployment.concurrency));
    // The gateway lets bodies up to this through; a shim with a smaller limit would turn a
    // caller's big request into an error that looks like a broken replica.
    spec.env.push_back("GANTRY_MAX_BODY=" + std::to_string(deployment.max_body_bytes));
  }
  if (deployment.runtime_api) {
    // The Lambda environment of this deployment (the shim adds AWS_LAMBDA_RUNTIME_API per
    // handler; the deployment's env has _HANDLER, the image LAMBDA_TASK_ROOT: images are
    // shared between functions, so nothing of a function's own is in them). After the
    // user's env: these win.
    spec.env.push_back("AWS_LAMBDA_FUNCTION_NAME=" + deployment.name);
    spec.env.push_back("AWS_LAMBDA_FUNCTION_VERSION=" + std::to_string(deployment.generation));
    spec.env.push_back("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" +
                       std::to_string(deployment.memory_bytes >> 20));
  }
  spec.log_driver = "json-file";
  spec.log_options = {{"max-size", logs.max_size}, {"max-file", std::to_string(logs.max_files)}};
  spec.security_opt = {"no-new-privileges"};
  spec.cap_drop = {"ALL"};
  spec.read_only_rootfs = deployment.read_only_root;
  spec.memory_bytes = deployment.memory_bytes;
  spec.nano_cpus = deployment.nano_cpus;
  spec.pids_limit = deployment.pids_limit;
  spec.stop_timeout_seconds = stop_timeout_seconds;
  spec.mounts.push_back({.type = docker::Mount::Type::kTmpfs,
                         .target = "/tmp",
                         .tmpfs_size_bytes = kTmpfsBytes,
                         .tmpfs_mode = 01777});
  if (!deployment.secrets.empty()) {
    // The directory, not one mount per file: a file bind mount pins the inode it was made
    // with, so a secret replaced on the host (write + rename) would never reach the
    // function. Through the directory the next open sees the new file.
    for (const char* root : {"/var/gantry/secrets", "/var/openfaas/secrets"}) {
      spec.mounts.push_back({.type = docker::Mount::Type::kBind,
                             .source = paths.secrets_dir,
                             .target = root,
                             .read_only = true});
    }
  }
  // An image serving HTTP is reached through its published port, which needs a network.
  bool isolated = deployment.network == NetworkAccess::kNone && deployment.http_port == 0;
  spec.network_mode = isolated ? "none" : network;
  if (deployment.http_port > 0) {
    spec.ports = {{.container_port = deployment.http_port, .host_port = 0, .host_ip = "127.0.0.1"}};
  } else {
    spec.mounts.push_back(
        {.type = docker::Mount::Type::kBind, .source = paths.socket_dir, .target = kSocketMount});
  }
  return spec;
}

}  // namespace gantry::pool
