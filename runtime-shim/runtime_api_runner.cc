#include "runtime_api_runner.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "log.h"

namespace gantry::shim {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime/";
constexpr std::size_t kMaxHandlerPayload = std::size_t{64} * 1024 * 1024;
// Up to one handler per core, a call that queues starts another one at once: CPU-bound
// handlers gain from that many processes. Past it, only once every handler has been busy
// with its call this long: short calls then share the handlers there are (on 2 cores, 16
// node handlers for 16 short calls starved the shim's one thread and did a seventh of the
// calls 2 did), while a handler that blocks (on I/O, or a long call) is seen after this
// and the calls waiting behind it get their own process. Long enough not to mistake a
// handler waiting for a core on a loaded machine for one that blocks.
constexpr std::chrono::milliseconds kGrowAfter{50};

// The cores the shim may run on: its CPU affinity, capped by a cgroup v2 CPU quota.
std::size_t UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::size_t cores = 1;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    cores = static_cast<std::size_t>(std::max(1, CPU_COUNT(&set)));
  }
  std::ifstream file("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (file >> quota >> period && quota != "max" && period > 0) {
    double share = std::atof(quota.c_str()) / period;
    if (share > 0)
      cores = std::min(cores, static_cast<std::size_t>(std::max(1.0, std::ceil(share))));
  }
  return cores;
}

HttpResponse Accepted() {
  return JsonResponse(202, "{\"status\":\"OK\"}\n");
}

}  // namespace

// One handler process and the Runtime API endpoint only it is told about.
struct RuntimeApiRunner::Handler {
  int slot = 0;
  std::unique_ptr<HttpListener> api;
  std::optional<ProcessSupervisor> supervisor;
  bool asked = false;   // asked for work since it (re)started
  std::string last_id;  // the call it answered last: output that trails its answer
  std::chrono::steady_clock::time_point busy_since;  // handed its current call then
};

RuntimeApiRunner::RuntimeApiRunner(boost::asio::io_context& io, const ShimConfig& config,
                                   const Clock& clock, ProcessReaper& reaper)
    : io_(io), config_(config), clock_(clock), reaper_(reaper), grow_timer_(io) {}

RuntimeApiRunner::~RuntimeApiRunner() = default;

bool RuntimeApiRunner::Start(FatalFn on_fatal, std::string& error) {
  on_fatal_ = std::move(on_fatal);
  for (std::string& entry : CurrentEnvironment()) {
    if (!entry.starts_with("AWS_LAMBDA_RUNTIME_API=")) env_.push_back(std::move(entry));
  }
  auto set_default = [this](const std::string& name, const std::string& value) {
    if (std::getenv(name.c_str()) == nullptr) env_.push_back(name + "=" + value);
  };
  set_default("AWS_LAMBDA_FUNCTION_NAME", config_.function_name);
  set_default("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
  char cwd[4096];
  set_default("LAMBDA_TASK_ROOT", ::getcwd(cwd, sizeof cwd) ? cwd : "/");
  if (const char* handler = std::getenv("GANTRY_HANDLER")) set_default("_HANDLER", handler);
  cores_ = UsableCores();
  LogShim("runtime API for up to " + std::to_string(config_.handlers) + " handler process(es), " +
          std::to_string(cores_) + " core(s)");
  return StartHandler(error);
}

bool RuntimeApiRunner::StartHandler(std::string& error) {
  auto handler = std::make_unique<Handler>();
  Handler& h = *handler;
  h.slot = static_cast<int>(handlers_.size());
  h.api = std::make_unique<HttpListener>(
      io_, kMaxHandlerPayload, [this, &h](HttpRequest&& request, const Responder& respond) {
        HandleApi(h, std::move(request), respond);
      });
  ListenAddress loopback{false, "", "127.0.0.1", 0};
  if (!h.api->Listen(loopback, error)) return false;
  std::string api = "127.0.0.1:" + std::to_string(h.api->port());
  std::vector<std::string> env = env_;
  env.push_back("AWS_LAMBDA_RUNTIME_API=" + api);

  ProcessSupervisor::Hooks hooks;
  hooks.on_started = [&h] { h.asked = false; };
  hooks.call_id = [this, &h] {
    std::string id = queue_.CurrentId(h.slot);
    return id.empty() ? h.last_id : id;
  };
  hooks.on_fatal = on_fatal_;
  hooks.on_exit = [this, &h](int status) {
    h.asked = false;
    specialization_waiters_.erase(h.slot);
    if (specialized_) {
      EndSpecialization(
          false, "handler process exited (" + DescribeWaitStatus(status) + ") before it was ready");
    }
    LoseCalls(h, "handler process exited (" + DescribeWaitStatus(status) +
                     ") before answering; restarted");
  };
  std::string what = h.slot == 0 ? "handler" : "handler " + std::to_string(h.slot);
  LogShim(what + ": runtime API on " + api);
  h.supervisor.emplace(io_, reaper_, clock_, what, config_.command, std::move(env),
                       std::move(hooks));
  handlers_.push_back(std::move(handler));
  return h.supervisor->Start(error);
}

void RuntimeApiRunner::Grow() {
  // Calls only queue when no handler waits; a handler that runs but neither waits nor has
  // a call is starting up (or between calls) and will take one soon.
  std::size_t coming = 0;
  auto now = clock_.Now();
  auto latest_busy = std::chrono::steady_clock::time_point::min();
  bool starting = false;  // a handler not yet ready: it may take a call soon
  for (const auto& h : handlers_) {
    if (!h->supervisor || !h->supervisor->running() || queue_.IsWaiting(h->slot)) continue;
    if (queue_.InFlightWith(h->slot) == 0) {
      ++coming;
      starting |= !h->asked;
    } else {
      latest_busy = std::max(latest_busy, h->busy_since);
    }
  }
  if (stopped_) return;
  // Every handler busy with its call for kGrowAfter (none starting: a node or python
  // process's first calls are slow, and it may soon take one of those queued; and not
  // all between calls, about to ask for the next).
  bool busy = latest_busy != std::chrono::steady_clock::time_point::min();
  bool waited = !starting && busy && now >= latest_busy + kGrowAfter;
  std::size_t limit = waited ? config_.handlers : std::min(config_.handlers, cores_);
  while (queue_.queued() > coming && handlers_.size() < limit) {
    std::string error;
    if (!StartHandler(error)) {
      LogShim("cannot start another handler: " + error);
      return;
    }
    ++coming;
  }
  if (queue_.queued() > coming && handlers_.size() < config_.handlers && !grow_pending_) {
    // A handler took its call a moment ago and may well be done soon, or one is starting:
    // look again later.
    grow_pending_ = true;
    grow_timer_.expires_after(
        busy && !starting ? std::max<std::chrono::steady_clock::duration>(
                                latest_busy + kGrowAfter - now, std::chrono::milliseconds(1))
                          : std::chrono::steady_clock::duration(kGrowAfter));
    grow_timer_.async_wait(
        [this, alive = std::weak_ptr<char>(alive_)](boost::system::error_code ec) {
          if (alive.expired()) return;
          grow_pending_ = false;
          if (!ec) Grow();
        });
  }
}

bool RuntimeApiRunner::Ready() const {
  if (config_.stem && !function_env_) return !specialization_waiters_.empty();
  return std::any_of(handlers_.begin(), handlers_.end(), [](const auto& h) { return h->asked; });
}

void RuntimeApiRunner::Specialize(const Specialization& specialization, SpecializedFn done) {
  function_env_ = specialization.env;
  if (specialization.function_name && !specialization.function_name->empty()) {
    function_env_->emplace("AWS_LAMBDA_FUNCTION_NAME", *specialization.function_name);
  }
  env_ = OverlayEnvironment(env_, *function_env_, {kStemVariable, "AWS_LAMBDA_RUNTIME_API"});
  for (auto& h : handlers_) {
    std::vector<std::string> env = env_;
    env.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(h->api->port()));
    if (h->supervisor) h->supervisor->SetEnvironment(std::move(env));
  }
  specialized_ = std::move(done);
  auto waiters = std::move(specialization_waiters_);
  specialization_waiters_.clear();
  for (const auto& [slot, respond] : waiters) AnswerSpecialization(respond);
}

void RuntimeApiRunner::AnswerSpecialization(const Responder& respond) const {
  nlohmann::json body = {{"env", function_env_.value_or(std::map<std::string, std::string>{})}};
  respond(JsonResponse(200,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
}

void RuntimeApiRunner::EndSpecialization(bool ok, const std::string& error) {
  if (!specialized_) return;
  // Told on the io loop, never from inside a handler's request.
  boost::asio::post(io_, [done = std::move(specialized_), ok, error] { done(ok, error); });
  specialized_ = nullptr;
}

bool RuntimeApiRunner::Running() const {
  return std::any_of(handlers_.begin(), handlers_.end(),
                     [](const auto& h) { return h->supervisor && h->supervisor->running(); });
}

void RuntimeApiRunner::Invoke(const std::shared_ptr<Call>& call) {
  if (stopped_) {
    call->Finish(ErrorReply(503, "shim is stopping", call->id()));
    return;
  }
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline() - clock_.Now());
  Invocation invocation{
      call->id(),
      BuildLambdaEvent(call->meta(), call->request().body(), call->id(), clock_.UnixMillis()),
      clock_.UnixMillis() + left.count()};
  calls_[call->id()] = call;
  queue_.Push(std::move(invocation));
  Grow();
}

void RuntimeApiRunner::FinishCall(const std::string& id, const FunctionReply& reply) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  auto call = it->second;
  calls_.erase(it);
  call->Finish(reply);
}

void RuntimeApiRunner::LoseCalls(Handler& handler, const std::string& why) {
  for (const auto& id : queue_.HandlerGone(handler.slot)) {
    LogShim("call " + id + ": " + why);
    handler.last_id = id;
    FinishCall(id, ErrorReply(502, why, id));
  }
}

void RuntimeApiRunner::Abandon(const std::shared_ptr<Call>& call) {
  calls_.erase(call->id());
  if (auto slot = queue_.Abandon(call->id())) {
    // That handler is still busy with a call nobody waits for: replace it.
    Handler& h = *handlers_[static_cast<std::size_t>(*slot)];
    LogShim("call " + call->id() + ": handler overran the deadline; restarting it");
    if (h.supervisor) h.supervisor->Kill(SIGKILL);
  }
}

void RuntimeApiRunner::Stop(int signal) {
  stopped_ = true;
  grow_timer_.cancel();
  specialization_waiters_.clear();
  for (auto& [id, call] : std::map(calls_)) {
    FinishCall(id, ErrorReply(503, "shim is stopping", id));
  }
  for (auto& h : handlers_) {
    if (h->supervisor) h->supervisor->Stop(signal);
    if (signal == SIGKILL) h->api->Close();
  }
}

void RuntimeApiRunner::HandleApi(Handler& handler, HttpRequest&& request,
                                 const Responder& respond) {
  std::string_view target = request.target();
  if (!target.starts_with(kApiPrefix)) {
    respond(JsonResponse(404, "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}\n"));
    return;
  }
  std::string_view rest = target.substr(kApiPrefix.size());
  if (request.method() == http::verb::get && rest == "invocation/next") {
    if (!handler.asked) {
      handler.asked = true;
      if (handler.supervisor) handler.supervisor->MarkReady();
      LogShim(handler.slot == 0 ? "handler ready"
                                : "handler " + std::to_string(handler.slot) + " ready");
    }
    if (function_env_) EndSpecialization(true, "");
    // A long poll: answered when a call arrives. A replaced waiter is dropped unanswered,
    // which closes its connection.
    [[maybe_unused]] auto replaced =
        queue_.Next(handler.slot, [this, &handler, respond](const Invocation& invocation) {
          handler.busy_since = clock_.Now();
          HttpResponse response = JsonResponse(200, invocation.event);
          response.set("Lambda-Runtime-Aws-Request-Id", invocation.id);
          response.set("Lambda-Runtime-Deadline-Ms", std::to_string(invocation.deadline_unix_ms));
          response.set("Lambda-Runtime-Invoked-Function-Arn",
                       "arn:aws:lambda:local:000000000000:function:" + config_.function_name);
          response.set("Lambda-Runtime-Trace-Id", "Root=" + invocation.id);
          respond(std::move(response));
        });
    return;
  }
  if (request.method() == http::verb::get && rest == "gantry/specialization") {
    if (!config_.stem || function_env_) {
      AnswerSpecialization(respond);
      return;
    }
    // A long poll until the cell is specialised; a replaced waiter is dropped unanswered.
    LogShim(handler.slot == 0 ? "handler: stem loaded, waiting for the specialisation"
                              : "handler " + std::to_string(handler.slot) +
                                    ": stem loaded, waiting for the specialisation");
    specialization_waiters_.insert_or_assign(handler.slot, respond);
    return;
  }
  if (request.method() == http::verb::post && rest == "init/error") {
    // One line naming the error (the runtime printed its traceback itself), which gantryd
    // reads back from the log as the reason its replica failed.
    std::string error = DescribeLambdaError(request.body());
    LogShim("handler init error: " + error);
    respond(Accepted());
    EndSpecialization(false, "handler import failed: " + error);
    // Nothing it was given can be answered now; the process is expected to exit.
    LoseCalls(handler, "handler import failed: " + error);
    return;
  }
  if (request.method() == http::verb::post && rest.starts_with("invocation/")) {
    std::string_view tail = rest.substr(std::string_view("invocation/").size());
    auto slash = tail.find('/');
    std::string id(tail.substr(0, slash));
    std::string_view what = slash == std::string_view::npos ? "" : tail.substr(slash + 1);
    if (what != "response" && what != "error") {
      respond(JsonResponse(404, "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}\n"));
      return;
    }
    if (!queue_.Finish(id)) {
      respond(JsonResponse(400, R"({"errorMessage":"unknown or finished request id )" + id +
                                    R"(","errorType":"InvalidRequestID"})" + "\n"));
      return;
    }
    respond(Accepted());
    handler.last_id = id;
    if (what == "response") {
      FinishCall(id, DecodeLambdaResponse(request.body()));
    } else {
      FunctionReply reply = DecodeLambdaError(request.body(), id);
      LogFunctionLine(id, "error", request.body());
      FinishCall(id, reply);
    }
    return;
  }
  respond(JsonResponse(404, "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}\n"));
}

}  // namespace gantry::shim
