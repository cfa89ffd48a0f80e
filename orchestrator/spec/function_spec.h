#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/call_defaults.h"
#include "core/result.h"

namespace gantry::spec {

// How a function's code is run. python3 and node use Gantry's templates with a handler;
// exec runs a command per request; dockerfile builds the user's own Dockerfile from the
// source directory; image runs a ready image that serves HTTP itself.
enum class Runtime { kPython3, kNode, kExec, kDockerfile, kImage };

// What a dockerfile or image function speaks: http (its own server on spec.port), or
// lambda (the AWS Lambda Runtime API: gantry-shim runs the image's own command, a Lambda
// runtime interface client, against it). The other runtimes always say http here; python3
// and node speak the Runtime API through their bootstraps whatever this says.
enum class Protocol { kHttp, kLambda };

// "python3", "node", "exec", "dockerfile", "image".
std::string_view RuntimeName(Runtime runtime);
// Parses a runtime name; nullopt for anything else.
std::optional<Runtime> ParseRuntime(std::string_view name);
// Every runtime name, in declaration order.
const std::vector<std::string_view>& RuntimeNames();

// What a function's containers can reach (spec.network). kDefault: the network gantryd
// makes for its functions (out to anywhere, not to each other, not to gantryd); kNone: no
// network at all, loopback only (calls still come in over the replica's unix socket).
enum class Network { kDefault, kNone };

// "default", "none".
std::string_view NetworkName(Network network);
// Parses a network name; nullopt for anything else.
std::optional<Network> ParseNetwork(std::string_view name);
// Every network name, in declaration order.
const std::vector<std::string_view>& NetworkNames();

// Defaults a manifest gets for fields it leaves out.
inline constexpr std::string_view kDefaultNamespace = "default";
using core::kDefaultMemoryBytes;
inline constexpr std::int64_t kMinMemoryBytes = std::int64_t{6} << 20;  // the engine's floor
inline constexpr std::int64_t kDefaultCpuMillis = 500;
inline constexpr std::chrono::milliseconds kDefaultTimeout = core::kDefaultCallTimeout;
inline constexpr int kDefaultConcurrency = 1;
inline constexpr int kDefaultScaleMin = 0;
inline constexpr int kDefaultScaleMax = 10;
using core::kDefaultIdleTimeout;
inline constexpr int kDefaultPort = 8080;
inline constexpr std::string_view kDefaultDockerfile = "Dockerfile";

struct Resources {
  std::int64_t memory_bytes = kDefaultMemoryBytes;
  std::int64_t cpu_millis = kDefaultCpuMillis;
};

// How long an idle replica is kept (spec.scale.keepAlive): `fixed` is idleTimeout;
// `adaptive` learns the function's idle times between calls and keeps (and prewarms) a
// replica for the window they predict, falling back to idleTimeout without a pattern.
enum class KeepAlive { kFixed, kAdaptive };
std::string_view KeepAliveName(KeepAlive keep_alive);

struct ScalePolicy {
  int min = kDefaultScaleMin;
  int max = kDefaultScaleMax;
  std::chrono::milliseconds idle_timeout = kDefaultIdleTimeout;
  // An idle replica is paused (no CPU, memory kept) after this; zero never pauses.
  std::chrono::milliseconds pause_after{0};
  KeepAlive keep_alive = KeepAlive::kFixed;
};

// What fires a function besides HTTP calls (spec.triggers): a cron schedule, whose every
// tick is one async call of the function with `body` and `headers`, in `timezone`, with
// ticks missed while gantryd was down fired once at start or skipped; or a topic, whose
// every published event is one async call with the event as the body.
struct Trigger {
  enum class Kind { kCron, kTopic } kind = Kind::kCron;
  std::string cron;              // the expression as written ("*/5 * * * *", "@hourly")
  std::string timezone = "UTC";  // an IANA zone name the schedule's wall clock is in
  enum class Missed { kOnce, kSkip } missed = Missed::kOnce;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string topic;  // kTopic: the topic's name (a DNS-1123 label)
  bool operator==(const Trigger&) const = default;
};

// FunctionSpec is a validated function: every field checked, every default filled in. It
// is immutable — only ValidateFunction() makes one — and a plain copyable value, safe to
// share between threads. Fields a runtime does not use are empty (handler for exec, ...).
class FunctionSpec {
 public:
  const std::string& name() const { return name_; }
  const std::string& namespace_name() const { return namespace_name_; }
  // "namespace/name".
  std::string QualifiedName() const { return namespace_name_ + "/" + name_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }
  // Free-form notes (OpenFaaS annotations): stored and returned, never acted on.
  const std::map<std::string, std::string>& annotations() const { return annotations_; }

  Runtime runtime() const { return runtime_; }
  const std::string& handler() const { return handler_; }
  const std::vector<std::string>& command() const { return command_; }
  // The source directory as written, lexically normalised ("./src/" -> "src"); empty
  // for runtime image and for exec without source.
  const std::string& source() const { return source_; }
  // source() resolved against the manifest's directory; what the builder reads.
  const std::string& source_path() const { return source_path_; }
  const std::string& dockerfile() const { return dockerfile_; }
  const std::string& image() const { return image_; }
  // The TCP port an image or dockerfile function serves HTTP on; 0 for the others.
  int port() const { return port_; }
  Protocol protocol() const { return protocol_; }
  const std::map<std::string, std::string>& env() const { return env_; }
  // Secret names, sorted and unique.
  const std::vector<std::string>& secrets() const { return secrets_; }
  const Resources& resources() const { return resources_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  int concurrency() const { return concurrency_; }
  const ScalePolicy& scale() const { return scale_; }
  Network network() const { return network_; }
  // The container's root filesystem is read-only (/tmp is a tmpfs either way); the default.
  // OpenFaaS deployments ask for it or not (readOnlyRootFilesystem, default false there).
  bool read_only_root() const { return read_only_root_; }
  // In the order written.
  const std::vector<Trigger>& triggers() const { return triggers_; }

 private:
  friend class FunctionSpecBuilder;
  FunctionSpec() = default;

  std::string name_;
  std::string namespace_name_;
  std::map<std::string, std::string> labels_;
  std::map<std::string, std::string> annotations_;
  Runtime runtime_ = Runtime::kExec;
  std::string handler_;
  std::vector<std::string> command_;
  std::string source_;
  std::string source_path_;
  std::string dockerfile_;
  std::string image_;
  int port_ = 0;
  Protocol protocol_ = Protocol::kHttp;
  std::map<std::string, std::string> env_;
  std::vector<std::string> secrets_;
  Resources resources_;
  std::chrono::milliseconds timeout_ = kDefaultTimeout;
  int concurrency_ = kDefaultConcurrency;
  ScalePolicy scale_;
  Network network_ = Network::kDefault;
  bool read_only_root_ = true;
  std::vector<Trigger> triggers_;
};

// The canonical JSON form: every field present (null where the runtime does not use it),
// quantities and durations in their normal form ("128Mi", "500m", "30s"), keys sorted.
// Two manifests that mean the same function give equal canonical forms. source_path() is
// left out: it depends on where the checkout lives, not on what the function is.
nlohmann::json ToCanonicalJson(const FunctionSpec& spec);

// ToCanonicalJson(spec).dump(): compact, sorted keys, UTF-8.
std::string CanonicalString(const FunctionSpec& spec);

}  // namespace gantry::spec
