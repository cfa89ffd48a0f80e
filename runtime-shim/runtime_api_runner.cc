#include "runtime_api_runner.h"

#include <csignal>
#include <unistd.h>

#include <cstdlib>

#include "log.h"

namespace gantry::shim {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime/";
constexpr std::size_t kMaxHandlerPayload = std::size_t{64} * 1024 * 1024;

HttpResponse JsonResponse(unsigned status, std::string body) {
  HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse Accepted() { return JsonResponse(202, "{\"status\":\"OK\"}\n"); }

}  // namespace

RuntimeApiRunner::RuntimeApiRunner(boost::asio::io_context& io, const ShimConfig& config,
                                   const Clock& clock, ProcessReaper& reaper)
    : io_(io),
      config_(config),
      clock_(clock),
      reaper_(reaper),
      api_(io, kMaxHandlerPayload, [this](HttpRequest&& request, const Responder& respond) {
        HandleApi(std::move(request), respond);
      }) {}

bool RuntimeApiRunner::Start(FatalFn on_fatal, std::string& error) {
  ListenAddress loopback{false, "", "127.0.0.1", 0};
  if (!api_.Listen(loopback, error)) return false;
  std::string api = "127.0.0.1:" + std::to_string(api_.port());
  LogShim("runtime API on " + api);

  std::vector<std::string> env = CurrentEnvironment();
  auto set_default = [&env](const std::string& name, const std::string& value) {
    if (std::getenv(name.c_str()) == nullptr) env.push_back(name + "=" + value);
  };
  env.push_back("AWS_LAMBDA_RUNTIME_API=" + api);
  set_default("AWS_LAMBDA_FUNCTION_NAME", config_.function_name);
  set_default("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
  char cwd[4096];
  set_default("LAMBDA_TASK_ROOT", ::getcwd(cwd, sizeof cwd) ? cwd : "/");
  if (const char* handler = std::getenv("GANTRY_HANDLER")) set_default("_HANDLER", handler);

  ProcessSupervisor::Hooks hooks;
  hooks.on_started = [this] { ready_ = false; };
  hooks.call_id = [this] {
    std::string id = queue_.CurrentId();
    return id.empty() ? last_id_ : id;
  };
  hooks.on_fatal = std::move(on_fatal);
  hooks.on_exit = [this](int status) {
    ready_ = false;
    for (const auto& id : queue_.HandlerGone()) {
      LogShim("call " + id + ": handler process exited (" + DescribeWaitStatus(status) +
              ") before answering");
      FinishCall(id, ErrorReply(502, "handler process exited (" + DescribeWaitStatus(status) +
                                         ") before answering; restarted",
                                id));
    }
  };
  supervisor_.emplace(io_, reaper_, clock_, "handler", config_.command, std::move(env),
                      std::move(hooks));
  return supervisor_->Start(error);
}

void RuntimeApiRunner::Invoke(const std::shared_ptr<Call>& call) {
  if (stopped_) {
    call->Finish(ErrorReply(503, "shim is stopping", call->id()));
    return;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline() - clock_.Now());
  Invocation invocation{call->id(),
                        BuildLambdaEvent(call->meta(), call->request().body(), call->id(),
                                         clock_.UnixMillis()),
                        clock_.UnixMillis() + left.count()};
  calls_[call->id()] = call;
  queue_.Push(std::move(invocation));
}

void RuntimeApiRunner::FinishCall(const std::string& id, const FunctionReply& reply) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  auto call = it->second;
  calls_.erase(it);
  last_id_ = id;
  call->Finish(reply);
}

void RuntimeApiRunner::Abandon(const std::shared_ptr<Call>& call) {
  calls_.erase(call->id());
  if (queue_.Abandon(call->id())) {
    // The handler is still busy with a call nobody waits for: replace it.
    LogShim("call " + call->id() + ": handler overran the deadline; restarting it");
    if (supervisor_) supervisor_->Kill(SIGKILL);
  }
}

void RuntimeApiRunner::Stop(int signal) {
  stopped_ = true;
  for (auto& [id, call] : std::map(calls_)) {
    FinishCall(id, ErrorReply(503, "shim is stopping", id));
  }
  if (supervisor_) supervisor_->Stop(signal);
  if (signal == SIGKILL) api_.Close();
}

void RuntimeApiRunner::HandleApi(HttpRequest&& request, const Responder& respond) {
  std::string_view target = request.target();
  if (!target.starts_with(kApiPrefix)) {
    respond(JsonResponse(404, "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}\n"));
    return;
  }
  std::string_view rest = target.substr(kApiPrefix.size());
  if (request.method() == http::verb::get && rest == "invocation/next") {
    if (!ready_) {
      ready_ = true;
      if (supervisor_) supervisor_->MarkReady();
      LogShim("handler ready");
    }
    // A long poll: answered when a call arrives. A replaced waiter is dropped unanswered,
    // which closes its connection.
    [[maybe_unused]] auto replaced = queue_.Next([this, respond](const Invocation& invocation) {
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
  if (request.method() == http::verb::post && rest == "init/error") {
    LogShim("handler init error: " + request.body());
    respond(Accepted());
    // Nothing it was given can be answered now; the process is expected to exit.
    for (const auto& id : queue_.HandlerGone()) {
      FinishCall(id, ErrorReply(502, "handler failed to initialise: " + request.body(), id));
    }
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
