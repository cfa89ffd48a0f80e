#pragma once

// The pool's public contract: Pool, the Deployment it runs and the Lease a call holds.
// Everything else in orchestrator/pool is the implementation (see pool_core.h).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "docker/docker_client.h"
#include "pool/defaults.h"

namespace gantry::pool {

class ReadinessProbe;    // readiness.h
class Specializer;       // stem_specialize.h
class ReplicaLifecycle;  // replica_lifecycle.h: hands out leases
namespace detail {
class PoolCore;  // pool_core.h
}  // namespace detail

// What a replica's container can reach (spec.network).
enum class NetworkAccess {
  kDefault,  // the pool's own bridge network (PoolOptions::network): out to anywhere, not
             // to other containers on it
  kNone,     // no network at all, only loopback (calls still come in over the unix socket)
};

// How long an idle replica is kept (spec.scale.keepAlive): kFixed keeps it idle_timeout;
// kAdaptive asks the keep-alive policy (autoscaler/keep_alive.h) with the function's
// idle-time histogram, which may also prewarm one before a predicted call.
enum class KeepAlive { kFixed, kAdaptive };

// What a stem cell needs to become a replica of a deployment (stem_cells.h): the template
// runtime whose cells can serve it, and the function's package on the host, exported from
// its image once it was built: `package_dir`/task (the code, /var/task) and
// `package_dir`/deps (installed dependencies, /opt/gantry/deps). Set by the daemon only
// for template functions (python3, node, exec) on the default network whose package is
// exported; absent, every start creates a container from `image`.
struct StemSpec {
  std::string runtime;  // "python3" | "node" | "exec"
  std::string package_dir;
  std::vector<std::string> command;  // exec: the function's command
};

// Everything the pool needs to run one generation of a function's replicas. Built by the
// daemon from a FunctionSpec and the builder's BuiltImage; immutable once applied.
struct Deployment {
  std::string namespace_name;
  std::string name;
  int64_t generation = 1;
  std::string image;  // image reference to run
  int http_port = 0;  // >0: the image serves HTTP itself on this port (published on
                      // 127.0.0.1); 0: the shim listens on /run/gantry/shim.sock
  std::map<std::string, std::string> env;
  // The shim serves the image the Lambda Runtime API: the replica gets the Lambda
  // environment (function name, version = generation, memory size).
  bool runtime_api = false;
  // name -> value; mounted read-only at /var/gantry/secrets/<name> and
  // /var/openfaas/secrets/<name>
  std::map<std::string, std::string> secrets;
  NetworkAccess network = NetworkAccess::kDefault;  // kNone needs http_port == 0
  bool read_only_root = true;  // the container's root filesystem (/tmp is a tmpfs either way)
  // The image runs as a user of its own, unknown here (runtime image or dockerfile): secret
  // files are made readable by any user (0444; the directory is mounted read-only into this
  // function's containers alone) instead of owned by PoolOptions::secrets_uid.
  bool secrets_for_any_user = false;
  int64_t memory_bytes = kDefaultMemoryBytes;
  int64_t nano_cpus = kDefaultNanoCpus;
  int64_t pids_limit = kDefaultPidsLimit;
  int concurrency = kDefaultConcurrency;  // slots per replica
  // > 0: the autoscaler aims at this many calls per second per replica instead of in-flight
  // calls (OpenFaaS's com.openfaas.scale.type=rps).
  double target_rps = 0;
  int min_replicas = kDefaultMinReplicas;
  int max_replicas = kDefaultMaxReplicas;
  std::chrono::milliseconds idle_timeout = kDefaultIdleTimeout;
  // An idle replica is paused (Engine API pause: no CPU, memory kept) after this; the next
  // call unpauses it. Zero never pauses. Shorter than idle_timeout.
  std::chrono::milliseconds pause_after{0};
  KeepAlive keep_alive = KeepAlive::kFixed;
  std::optional<StemSpec> stem;  // a stem cell may serve a start (see StemSpec)
  std::chrono::milliseconds timeout = kDefaultCallTimeout;  // per call (the shim enforces it too)
  // Request body limit the shim enforces (413 beyond); the gateway's own limit, so the two
  // agree.
  int64_t max_body_bytes = kDefaultMaxBodyBytes;
  int max_queue = kDefaultMaxQueue;  // waiting calls beyond this: kUnavailable -> 429
  // No slot within this: kTimeout -> 503.
  std::chrono::milliseconds queue_timeout = kDefaultQueueTimeout;
};

// How to reach a replica: its shim's unix socket, or 127.0.0.1:port for images serving HTTP.
struct Endpoint {
  std::string unix_socket;  // non-empty: HTTP over this socket
  std::string host = "127.0.0.1";
  int port = 0;
};

// What served a call: a replica that was ready (warm), one started for it from a new
// container or specialised from a stem cell (both cold starts), or a paused one unpaused.
// How long Pool::Scale's count holds (Pool::Scale).
enum class ScaleHold { kIdleTimeout, kUntilCall };

enum class StartPath { kWarm, kContainer, kStemCell, kUnpaused };
// "warm", "container", "stem-cell", "unpaused": the X-Gantry-Start header and records.
std::string_view StartPathName(StartPath path);

// One slot on a ready replica, held for one call and given back when the Lease is
// destroyed (move-only; a moved-from or default Lease holds nothing: empty endpoint and
// id, timeout() kDefaultCallTimeout). While held, the replica was ready when leased and the
// slot counts against its concurrency, so no other call gets it. Scaling down and new
// generations never take the replica away under the call (a draining replica goes after
// its last lease); it can still die (events, health check, Fail, or Remove cutting calls
// past the function's timeout), and the call then fails on it. A Lease may outlive the
// Pool. A call that finds the replica broken calls Fail(): the replica is marked dead at
// once, never leased again, and replaced. Not thread-safe (one call holds it); distinct
// leases may be used and dropped on any threads.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&&) noexcept;
  Lease& operator=(Lease&&) noexcept;
  ~Lease();

  const Endpoint& endpoint() const;
  const std::string& replica_id() const;      // the container id
  bool cold_start() const;                    // this call waited for a replica to start
  StartPath start_path() const;               // what served it: warm, new container, ...
  int64_t generation() const;                 // the replica's deployment generation
  std::chrono::milliseconds timeout() const;  // the function's call timeout
  int64_t memory_bytes() const;               // the function's memory limit
  void Fail(const std::string& reason);

 private:
  friend class ReplicaLifecycle;
  struct State;  // lease_state.h
  explicit Lease(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

// Receives what Pool::Acquire got (see there).
using AcquireCallback = std::function<void(core::Result<Lease>)>;

// A container log line: when (the engine's timestamp), which stream, the text (no '\n').
struct LogLine {
  std::chrono::system_clock::time_point time;
  docker::Stream stream = docker::Stream::kStdout;
  std::string text;
};

struct ReplicaStatus {
  std::string id;  // container id
  int64_t generation = 0;
  // "starting", "ready", "paused" (ready, its container paused: scale.pauseAfter),
  // "draining", "dead"
  std::string state;
  int in_flight = 0;
  std::chrono::system_clock::time_point started;
  std::string last_error;
  int exit_code = -1;  // "dead": the container's exit code when known
  bool oom = false;    // the engine reported an OOM kill in it
};

struct FunctionStatus {
  std::string namespace_name;
  std::string name;
  int64_t generation = 0;
  int ready = 0;
  int paused = 0;  // of the ready ones: paused (the next call unpauses one)
  int starting = 0;
  int queued = 0;  // calls waiting for a slot
  int in_flight = 0;
  std::vector<ReplicaStatus> replicas;
  std::string last_error;
  std::chrono::system_clock::time_point last_call{};  // epoch when never called
  // What the status derivation (daemon/function_phase.h) and callers' error bodies need:
  int min_replicas = 0;
  int max_replicas = 0;
  int desired = 0;  // the last decided replica count (autoscaler, scale.min or Scale)
  // Scale(..., ScaleHold::kUntilCall) holds `desired` (possibly below min_replicas) until
  // the next call.
  bool held_until_call = false;
  // Replicas that died before they got ready, in a row (reset by a ready replica); while
  // > 0 new starts wait for the back-off (next_retry).
  int failures_in_a_row = 0;
  // When the start back-off ends (wall clock); epoch when no back-off runs.
  std::chrono::system_clock::time_point next_retry{};
  // The last replica failure in user terms (DescribeFailure: "handler import failed: ...",
  // "out of memory (128Mi)"); empty when none. Set once the dead replica's log was read.
  std::string last_failure;
  std::chrono::system_clock::time_point last_failure_time{};  // epoch when none
  bool last_failure_before_ready = false;  // the last failed replica never got ready
  // The dead replica's last log lines (at most kDiedLogLines, oldest first) and the last
  // non-empty one of them.
  std::vector<LogLine> last_lines;
  std::string last_log_line;
  // keepAlive: adaptive: the keep-alive in force ("adaptive: prewarm 54s, keep 1m7s (36
  // samples)", "adaptive: fixed 5m (too few samples: 3)"); empty for fixed.
  std::string keep_alive;
};

// Something that happened to a function's replicas, told to PoolOptions::on_event (the
// daemon keeps them as the function's Events, follows replicas' logs, derives its status).
struct PoolEvent {
  enum class Kind {
    kReplicaStarting,  // the container was created and started; not ready yet
    kReplicaReady,     // it passed its readiness check and takes calls
    kReplicaDied,      // it exited, was OOM-killed, failed a health check or never got
                       // ready: exit_code, oom, before_ready, reason, last_lines
    kReplicaRemoved,   // removed on purpose: idle, scale-down, a new generation, delete
    kStartFailed,      // a container could not be created or started (reason)
    kScaled,           // the desired replica count changed: from -> to (reason)
  };
  Kind kind = Kind::kReplicaStarting;
  std::string namespace_name;
  std::string name;
  int64_t generation = 0;
  std::string replica;        // the container id; empty for kScaled and some kStartFailed
  int exit_code = -1;         // kReplicaDied: the container's exit code; -1 unknown
  bool oom = false;           // kReplicaDied: the engine OOM-killed it
  bool before_ready = false;  // kReplicaDied: it never became ready
  int from = 0;               // kScaled
  int to = 0;                 // kScaled
  std::string reason;         // in user terms (what a `describe` shows)
  // kReplicaDied: the container's last log lines (at most kDiedLogLines, oldest first),
  // read from the engine before the container is removed.
  std::vector<LogLine> last_lines;
  std::chrono::system_clock::time_point time;  // when it happened (wall clock)
};
inline constexpr int kDiedLogLines = 20;

// Told every PoolEvent, on a pool thread, with no pool lock held, and before a died
// replica's container is removed (so its logs can still be read). Must be quick and must
// not call the pool's blocking methods (Apply, Remove, Scale, Flush).
// When: kReplicaStarting after the container's create+start; kReplicaReady when it passed
// the readiness check; Start's adopted replicas get both (reason "adopted"). kReplicaDied
// from the events stream's die (exit code; oom when an OOM kill was seen), a failed health
// check, a replica never ready within ready_timeout, Lease::Fail or the sweep; reason is
// DescribeFailure's. kReplicaRemoved after a replica stopped on purpose was removed (reason
// "idle", "scaled down", "new generation", "function removed"). kStartFailed when no
// container ran (create/start/files failed). kScaled when the decided count changed
// (reason "autoscaler", "scale.min" or "manual").
using PoolEventFn = std::function<void(const PoolEvent&)>;

struct PoolOptions {
  std::string run_dir = kDefaultRunDir;  // per-replica socket directories live here
  docker::Labels extra_labels;           // put on every container (tests: gantry.test)
  // The gantryd instance owning this pool: every container carries gantry.instance=<id>
  // (set on the container, so it overrides whatever an image says) and the pool lists,
  // adopts, removes and follows events of only containers carrying it. Empty: no instance
  // label (a pool alone in tests, told apart by extra_labels).
  std::string instance_id;
  // The bridge network replicas with NetworkAccess::kDefault sit on, with inter-container
  // traffic off. Start creates it (labelled like the containers) when missing, adopts it
  // when it carries this pool's labels and fails (kConflict) when it belongs to someone
  // else; the pool creates it again if it disappears, and never removes it. Empty:
  // "gantry-<instance_id>"; empty without an instance id: the engine's default bridge,
  // nothing created (a pool alone in tests).
  std::string network;
  std::chrono::milliseconds ready_timeout = kDefaultReadyTimeout;
  // The autoscaler / reconcile period.
  std::chrono::milliseconds control_interval = kDefaultControlInterval;
  // Added by the implementation (defaults are what gantryd wants):
  core::Clock* clock = nullptr;     // null: the system's steady clock; tests: a ManualClock
  ReadinessProbe* probe = nullptr;  // null: HTTP over the shim's socket / the published port
  bool control_loop = true;         // false: no control thread; the owner calls Reconcile()
  bool watch_events = true;         // follow the engine's die/oom events
  int workers = kDefaultWorkers;    // container starts and removals running at once
  int stop_timeout_seconds =
      kDefaultStopTimeoutSeconds;        // SIGTERM grace before the engine kills a replica
  int secrets_uid = kDefaultSecretsUid;  // owner of secret files (the templates' user)
  // Each shim replica's socket directory (the only host path a function can write) is a
  // tmpfs of this many bytes that gantryd mounts (needs root: a replica fails to start with
  // a clear error otherwise). 0: a plain directory on the state disk, unbounded (tests).
  int64_t socket_dir_bytes = kDefaultSocketDirBytes;
  // Every container's log (the engine's json-file driver) is rotated at log_max_size and
  // keeps log_max_files files, so one function printing without end costs bounded disk.
  std::string log_max_size = kDefaultLogMaxSize;
  int log_max_files = kDefaultLogMaxFiles;
  PoolEventFn on_event;  // optional
  // Null: POST /_/specialize over the stem cell's socket (tests: a scripted one).
  Specializer* specializer = nullptr;
};

// Runs functions' replicas as containers through the Engine API. Labels every container
// (gantry.function, gantry.namespace, gantry.generation, gantry.replica), applies the
// security defaults of DESIGN.md, shares one cold start among the calls waiting for it,
// keeps scale.min warm, scales with the autoscaler, pauses replicas idle past pause_after
// (the next call unpauses one: StartPath::kUnpaused), drops replicas idle past
// idle_timeout (paused or not), and replaces a replica that dies (events stream, failed
// health check, Lease::Fail). The warm path (Acquire with a free slot) touches only memory.
// Thread-safe.
class Pool {
 public:
  Pool(docker::DockerClient& docker, PoolOptions options);
  ~Pool();  // Stop()s

  // Creates or adopts the pool's network (PoolOptions::network; kConflict when a network
  // of that name is not this pool's). Adopts running containers of the given deployments
  // by label (the current generation, healthy; a specialised stem cell by its owner
  // marker) and removes every other gantry-labelled container (free stem cells too);
  // starts the events watcher, the control loop and the stem cells' filling.
  // "Gantry-labelled" means carrying gantry.replica,
  // gantry.instance=options.instance_id and every options.extra_labels pair, so pools of
  // different instances (or with different extra labels) never touch each other's
  // containers. Also removes run_dir entries named like replicas it did not adopt.
  // Errors: the engine's (listing containers), kConflict when called twice.
  core::Status Start(const std::vector<Deployment>& current);
  // Stops the loops; leaves containers running, paused ones paused (a restarted gantryd
  // adopts them, unpausing paused ones first). Queued calls get kUnavailable. Leases still
  // held stay valid and may be dropped later.
  void Stop();

  // Deploys a new generation, or updates settings of the current one: new replicas are
  // made ready before old ones drain, so calls are not dropped.
  // A new function: returns at once (scale.min replicas start in the background). A new
  // generation of a function that had ready replicas: blocks until max(scale.min, 1) new
  // replicas are ready (then the old drain) or failed — kInternal with the reason, and the
  // old generation keeps serving. The same generation: settings (scale, queue, timeouts)
  // change in place; image/env/secrets changes need a new generation. Errors also:
  // kInvalidArgument (concurrency < 1, min > max, ...), kConflict (older generation, or
  // the function is being removed), kUnavailable (stopping).
  core::Status Apply(const Deployment& deployment);
  // Drains and removes every replica of the function and their run dirs; queued calls get
  // kNotFound. Blocks while calls in flight finish (up to the function's timeout, then they
  // are cut). kNotFound if unknown.
  core::Status Remove(const std::string& ns, const std::string& name);
  // Sets the replica count now. kIdleTimeout: the autoscaler leaves it so for idle_timeout,
  // then decides again; kUntilCall (OpenFaaS's scale-function, as its idler uses it): the
  // count may be below min_replicas and holds until the function's next call, after which
  // the usual rules (scale.min included) apply. Fewer: idle replicas go first, busy ones
  // drain. kNotFound; kInvalidArgument (outside the deployment's [min_replicas,
  // max_replicas], or [0, max_replicas] for kUntilCall, naming the bounds) — no replica is
  // started then.
  core::Status Scale(const std::string& ns, const std::string& name, int replicas,
                     ScaleHold hold = ScaleHold::kIdleTimeout);

  // Gives secret `secret` of namespace `ns` its new `value` in every function of `ns` that
  // uses it: each live replica's file (in its secrets directory, which the container mounts)
  // is replaced atomically, so the function's next read of the file returns the new value,
  // and replicas started from now on get it. No replica is restarted and no generation
  // changes. Returns how many replicas' files were replaced (0 when no function uses it).
  // Errors: kInternal naming the replica whose file could not be written (every other
  // replica is still updated). Safe to call at any time, also while replicas start.
  core::Result<int> UpdateSecret(const std::string& ns, const std::string& secret,
                                 const std::string& value);

  // Gets a slot on a ready replica of ns/name for one call. `done` is called exactly once:
  //  - with a Lease at once, on the calling thread, before Acquire returns, when a ready
  //    replica has a free slot (the warm path: memory only, no engine call; it takes only
  //    this function's lock, so calls to other functions never wait for it);
  //  - otherwise later, on a pool thread (a replica's start, a dropped Lease's hand-off or
  //    the control loop), with a Lease once a slot frees or a replica started for the queue
  //    gets ready (cold_start() true then);
  //  - or with an error (on the calling thread when known at the call, else on the thread
  //    that decides it: a pool thread, or the one calling Remove or Stop): kNotFound (no
  //    such function, or removed while waiting),
  //    kUnavailable (max_queue calls already wait: 429; or the pool is stopping), kTimeout
  //    (no slot within queue_timeout: 503), kInternal (its replicas fail to start, with the
  //    reason; also at once while the start back-off lasts and no replica is live).
  // `done` must not block for long: on a pool thread it holds up other hand-offs. It may
  // call the pool again (no pool lock is held while it runs). Thread-safe.
  void Acquire(const std::string& ns, const std::string& name, AcquireCallback done);

  core::Result<FunctionStatus> Describe(const std::string& ns, const std::string& name) const;
  std::vector<FunctionStatus> List() const;

  // Stem cells (stem_cells.h): from now on `count` free cells of template runtime
  // `runtime` ("python3", "node", "exec") run `image` (a stem image, protocol14.md), made in
  // the background once started (0: none, free ones are removed). A start of a deployment
  // whose `stem` names the runtime takes a free cell and specialises it instead of creating
  // a container; a cell serves one function for life. Thread-safe.
  void SetStemImage(const std::string& runtime, const std::string& image, int count);
  // Free (ready, unspecialised) cells per runtime that has an image.
  std::map<std::string, int> FreeStemCells() const;

  // One control pass now (what the control loop does every control_interval): expires
  // queued calls past queue_timeout, applies the autoscaler's decision, drains idle and
  // surplus replicas, replaces dead ones. For owners that set control_loop = false (tests).
  void Reconcile();
  // Blocks until no container start or removal is queued or running (tests).
  void Flush();

 private:
  std::shared_ptr<detail::PoolCore> core_;
};

}  // namespace gantry::pool
