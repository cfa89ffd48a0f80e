#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Plain value types of the Docker Engine API as the orchestrator uses it. Only the fields
// Gantry needs are modelled; names follow the API's where that is not confusing.
namespace gantry::docker {

using Labels = std::map<std::string, std::string>;

// A label filter as the engine understands it: "key" (label present) or "key=value".
using LabelSelector = std::vector<std::string>;

struct VersionInfo {
  std::string version;          // engine version, e.g. "20.10.24+dfsg1"
  std::string api_version;      // the highest API version the engine speaks, e.g. "1.41"
  std::string min_api_version;  // the lowest, e.g. "1.12"
  std::string os;
  std::string arch;
  std::string kernel_version;
};

struct EngineInfo {
  std::string name;
  std::string server_version;
  std::string storage_driver;
  std::string cgroup_driver;
  std::string cgroup_version;
  int64_t containers = 0;
  int64_t containers_running = 0;
  int64_t images = 0;
  int64_t ncpu = 0;
  int64_t mem_total = 0;
  std::vector<std::string> security_options;
};

struct Mount {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::string source;  // host path (bind only)
  std::string target;  // path in the container
  bool read_only = false;
  int64_t tmpfs_size_bytes = 0;  // tmpfs only; 0 = engine default
  int tmpfs_mode = 0;            // tmpfs only; 0 = engine default (e.g. 01777)
};

// A container port published on the host. Gantry only ever publishes on loopback.
struct PortBinding {
  int container_port = 0;
  std::string protocol = "tcp";
  int host_port = 0;  // 0 = the engine picks a free port
  std::string host_ip = "127.0.0.1";
};

// Everything POST /containers/create needs. Empty fields mean "the image's default".
struct ContainerSpec {
  std::string name;  // empty: the engine names it
  std::string image;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  Labels labels;
  std::string user;
  std::string working_dir;
  std::string hostname;
  std::vector<Mount> mounts;
  std::vector<PortBinding> ports;
  int64_t memory_bytes = 0;  // 0 = unlimited; swap is limited to the same amount
  int64_t nano_cpus = 0;     // 1e9 = one CPU; 0 = unlimited
  int64_t pids_limit = 0;    // 0 = unlimited
  bool read_only_rootfs = false;
  std::vector<std::string> cap_drop;  // e.g. {"ALL"}
  std::vector<std::string> cap_add;
  std::vector<std::string> security_opt;  // e.g. {"no-new-privileges"}
  bool init = false;                      // run the engine's tini as PID 1
  std::string network_mode;               // "", "host", "bridge", "none", a network name
  std::string stop_signal;
  std::optional<int> stop_timeout_seconds;
  bool auto_remove = false;
  // HostConfig.LogConfig: the engine's log driver for the container ("json-file", "local")
  // and its options (json-file: "max-size" "10m", "max-file" "3"). Empty: the engine's
  // default driver, unbounded with json-file.
  std::string log_driver;
  std::map<std::string, std::string> log_options;
};

struct ContainerState {
  std::string status;  // "created", "running", "paused", "restarting", "exited", "dead"
  bool running = false;
  bool paused = false;
  bool oom_killed = false;
  int64_t pid = 0;
  int64_t exit_code = 0;
  std::string error;
  std::string started_at;
  std::string finished_at;
};

// What GET /containers/{id}/json tells, trimmed to what Gantry uses.
struct ContainerInfo {
  std::string id;
  std::string name;   // without the leading '/'
  std::string image;  // the image as named at create time
  std::string image_id;
  Labels labels;
  ContainerState state;
  std::string ip_address;                       // on the default bridge, when attached
  std::map<std::string, std::string> networks;  // network name -> IP address
  // "8080/tcp" -> host port, for published ports.
  std::map<std::string, int> host_ports;
  int64_t memory_bytes = 0;
  int64_t nano_cpus = 0;
  int64_t pids_limit = 0;
  bool read_only_rootfs = false;
  std::string network_mode;
};

// One row of GET /containers/json.
struct ContainerSummary {
  std::string id;
  std::string name;
  std::string image;
  std::string state;   // "running", "exited", ...
  std::string status;  // human text, "Up 2 seconds"
  Labels labels;
  std::string network_mode;  // HostConfig.NetworkMode: "none", "bridge", a network's name
};

struct ImageInfo {
  std::string id;
  std::vector<std::string> repo_tags;
  Labels labels;
  int64_t size = 0;
  std::string created;       // as the engine wrote it (RFC 3339 from inspect)
  int64_t created_unix = 0;  // seconds since the epoch (from list), 0 when unknown
  // Config.Entrypoint and Config.Cmd (inspect only; empty when unset): what the image runs.
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
};

struct BuildOptions {
  std::vector<std::string> tags;          // "repo:tag"
  std::string dockerfile = "Dockerfile";  // path inside the context
  Labels labels;                          // added to the image
  std::map<std::string, std::string> build_args;
  bool no_cache = false;
  bool pull = false;  // there is no registry here: off by default
};

struct ImportOptions {
  std::string repo;                  // "gantry/base"
  std::string tag;                   // "bookworm"
  std::vector<std::string> changes;  // Dockerfile instructions: "CMD [\"/bin/sh\"]", "LABEL a=b"
};

struct RemoveOptions {
  bool force = false;    // kill a running container first
  bool volumes = false;  // remove its anonymous volumes too
};

struct LogsOptions {
  bool follow = false;
  bool stdout_stream = true;
  bool stderr_stream = true;
  int64_t since_unix = 0;       // only lines after this time; 0 = from the start
  std::optional<int64_t> tail;  // only the last N lines
  bool timestamps = false;
};

enum class Stream { kStdin = 0, kStdout = 1, kStderr = 2 };

struct EventsOptions {
  LabelSelector labels;              // all must match
  std::vector<std::string> types;    // "container", "image", ...
  std::vector<std::string> actions;  // "start", "die", ...
  std::optional<double> since_unix;  // replay from this time
  std::optional<double> until_unix;  // stop at this time; unset with follow = stream forever
};

// One message of GET /events.
struct Event {
  std::string type;    // "container", "image", "network", ...
  std::string action;  // "create", "start", "die", "pause", "unpause", "destroy", ...
  std::string id;      // the actor: container id, image id, ...
  std::map<std::string, std::string> attributes;  // labels, name, image, exitCode, ...
  int64_t time_nano = 0;
};

// What POST /networks/create needs: a bridge network by default. `options` are the
// driver's ("com.docker.network.bridge.enable_icc": "false").
struct NetworkSpec {
  std::string name;
  std::string driver = "bridge";
  Labels labels;
  std::map<std::string, std::string> options;
  bool internal = false;  // no route out of the network
};

// What GET /networks/{id} tells, trimmed to what Gantry uses.
struct NetworkInfo {
  std::string id;
  std::string name;
  std::string driver;
  Labels labels;
  std::map<std::string, std::string> options;
  bool internal = false;
  std::vector<std::string> subnets;   // IPAM config, e.g. "172.18.0.0/16"
  std::vector<std::string> gateways;  // the host side of the bridge, e.g. "172.18.0.1"
  // Containers attached: container id -> IPv4 address without the prefix length.
  std::map<std::string, std::string> containers;
};

struct WaitResult {
  int64_t exit_code = 0;
  std::string error;  // the engine's message when waiting failed
};

// What POST /containers/{id}/update changes: a running container's limits.
struct ContainerResources {
  int64_t memory_bytes = 0;  // 0: left as it is
  int64_t memory_swap = 0;   // 0: left as it is; the same as memory_bytes: no swap
  int64_t nano_cpus = 0;     // 0: left as it is
  int64_t pids_limit = 0;    // 0: left as it is
};

// Receives a response body piece by piece (a tar stream); return false to stop reading.
using ByteSinkFn = std::function<bool(std::string_view data)>;

// Supplies a request body piece by piece: fills up to `capacity` bytes of `buffer` and
// returns how many it wrote, 0 at the end, or -1 on a read error (the request fails).
using BodyReader = std::function<std::ptrdiff_t(char* buffer, std::size_t capacity)>;

// A BodyReader over bytes that outlive the request.
BodyReader ReadFromString(std::string_view bytes);

}  // namespace gantry::docker
