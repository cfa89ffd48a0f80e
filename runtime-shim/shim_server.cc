#include "shim_server.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "log.h"

namespace gantry::shim {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

bool UsableCallId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string ErrorBody(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace) +
         "\n";
}

// A function that can't load exits the shim the way a handler that keeps failing does.
constexpr int kExitNotReady = 3;

}  // namespace

ShimServer::ShimServer(asio::io_context& io, ShimConfig& config, const Clock& clock,
                       FunctionRunner& runner)
    : io_(io),
      config_(config),
      clock_(clock),
      runner_(runner),
      listener_(io, config.max_body,
                [this](HttpRequest&& request, Responder respond) {
                  Handle(std::move(request), std::move(respond));
                }),
      admission_(config.max_inflight),
      drain_timer_(io),
      exit_timer_(io),
      specialize_timer_(io),
      stem_(config.stem ? Stem::kWaiting : Stem::kNone) {
  char prefix[32];
  auto seed = static_cast<unsigned long long>(clock_.UnixMillis()) ^
              (static_cast<unsigned long long>(::getpid()) << 40);
  std::snprintf(prefix, sizeof prefix, "%08llx", (seed * 0x9E3779B97F4A7C15ull) >> 32);
  id_prefix_ = prefix;
}

bool ShimServer::Start(std::string& error) {
  if (!runner_.Start([this](int code, const std::string& message) { Fatal(code, message); },
                     error)) {
    return false;
  }
  if (!listener_.Listen(config_.listen, error)) return false;
  LogShim("mode " + std::string(ModeName(config_.mode)) + (config_.stem ? " (stem cell)" : "") +
          ", listening on " +
          (config_.listen.is_unix
               ? "unix:" + config_.listen.path
               : "tcp:" + config_.listen.host + ":" + std::to_string(config_.listen.port)));
  return true;
}

std::string ShimServer::NewCallId(const HttpRequest& request) {
  auto given = request.find("X-Call-Id");
  std::string id;
  if (given != request.end() && UsableCallId(given->value())) {
    id = std::string(given->value());
    if (calls_.count(id) != 0) id += "-" + std::to_string(next_call_++);
  } else {
    id = id_prefix_ + "-" + std::to_string(next_call_++);
  }
  return id;
}

void ShimServer::HandleShimEndpoint(const HttpRequest& request, const Responder& respond) {
  std::string_view target = request.target();
  if (target == "/_/health") {
    respond(TextResponse(200, "ok\n"));
  } else if (target == "/_/ready") {
    if (admission_.draining()) {
      respond(TextResponse(503, "draining\n"));
    } else if (stem_ == Stem::kSpecialising) {
      respond(TextResponse(503, "specialising\n"));
    } else if (!runner_.Ready()) {
      respond(TextResponse(503,
                           stem_ == Stem::kWaiting ? "stem not loaded\n" : "function not ready\n"));
    } else {
      respond(TextResponse(200, "ready\n"));
    }
  } else if (target == "/_/specialize") {
    Specialize(request, respond);
  } else {
    respond(TextResponse(404, "no such shim endpoint\n"));
  }
}

void ShimServer::Specialize(const HttpRequest& request, const Responder& respond) {
  if (request.method() != http::verb::post) {
    HttpResponse response = JsonResponse(405, ErrorBody("POST only"));
    response.set(http::field::allow, "POST");
    respond(std::move(response));
    return;
  }
  // Once for life, whatever the body: the function itself can reach this socket later.
  if (stem_ != Stem::kWaiting) {
    respond(JsonResponse(
        409, ErrorBody(stem_ == Stem::kNone ? "not a stem cell" : "already specialised")));
    return;
  }
  if (admission_.draining()) {
    respond(JsonResponse(503, ErrorBody("draining: this cell is shutting down")));
    return;
  }
  std::string error;
  auto specialization = ParseSpecialization(request.body(), error);
  if (specialization && config_.mode == Mode::kExec && specialization->command.empty()) {
    error = "command: required in exec mode";
    specialization.reset();
  }
  if (!specialization) {
    LogShim("specialize refused: " + error);
    respond(JsonResponse(400, ErrorBody(error)));
    return;
  }
  stem_ = Stem::kSpecialising;
  ApplySpecialization(*specialization, config_);
  admission_.set_limit(config_.max_inflight);
  listener_.set_body_limit(config_.max_body);
  LogShim("specialising for function " + config_.function_name + " (" +
          std::to_string(specialization->env.size()) + " variable(s), timeout " +
          std::to_string(config_.timeout.count()) + " ms, max in-flight " +
          std::to_string(config_.max_inflight) + ")");
  specialize_timer_.expires_after(config_.ready_timeout);
  specialize_timer_.async_wait([this, respond](const boost::system::error_code& ec) {
    if (ec || stem_ != Stem::kSpecialising) return;
    Specialized(504,
                "function not ready within " + std::to_string(config_.ready_timeout.count()) +
                    " ms of its specialisation",
                respond);
  });
  runner_.Specialize(*specialization, [this, respond](bool ok, const std::string& why) {
    if (stem_ != Stem::kSpecialising) return;  // past the ready timeout: answered already
    specialize_timer_.cancel();
    Specialized(ok ? 200 : 502, why, respond);
  });
}

void ShimServer::Specialized(unsigned status, const std::string& error, const Responder& respond) {
  if (status == 200) {
    stem_ = Stem::kSpecialised;
    LogShim("specialised: function " + config_.function_name + " ready");
    respond(JsonResponse(200, "{\"ready\":true}\n"));
    return;
  }
  stem_ = Stem::kFailed;
  HttpResponse response = JsonResponse(status, ErrorBody(error));
  response.keep_alive(false);
  respond(std::move(response));
  Fatal(kExitNotReady, error);
}

void ShimServer::Handle(HttpRequest&& request, Responder respond) {
  std::string_view target = request.target();
  if (target.starts_with("/_/")) {
    HandleShimEndpoint(request, respond);
    return;
  }
  if (stem_ != Stem::kNone && stem_ != Stem::kSpecialised) {
    respond(JsonResponse(503, ErrorBody("not specialised")));
    return;
  }
  Admission::Verdict verdict = admission_.TryEnter();
  if (verdict == Admission::Verdict::kBusy && AbandonHungUp() > 0) verdict = admission_.TryEnter();
  switch (verdict) {
    case Admission::Verdict::kDraining: {
      HttpResponse response = TextResponse(503, "draining: this replica is shutting down\n");
      response.keep_alive(false);
      respond(std::move(response));
      return;
    }
    case Admission::Verdict::kBusy: {
      HttpResponse response = TextResponse(
          429, "too many calls in flight (max " + std::to_string(config_.max_inflight) + ")\n");
      response.set(http::field::retry_after, "1");
      respond(std::move(response));
      return;
    }
    case Admission::Verdict::kAdmitted:
      break;
  }

  std::string id = NewCallId(request);
  auto deadline = clock_.Now() + config_.timeout;
  auto call = std::make_shared<Call>(id, std::move(request), deadline, std::move(respond));
  auto timer = std::make_shared<asio::steady_timer>(io_, config_.timeout);
  calls_[id] = call;
  call->OnFinished([this, id, timer] {
    timer->cancel();
    calls_.erase(id);
    admission_.Leave();
    CheckDrained();
  });
  std::weak_ptr<Call> weak = call;
  if (ClientConnection* client = call->client()) {
    client->OnHangUp([this, weak] {
      if (auto gone = weak.lock()) HungUp(gone);
    });
  }
  timer->async_wait([this, weak](const boost::system::error_code& ec) {
    if (ec) return;
    auto expired = weak.lock();
    if (!expired) return;
    if (expired->finished()) {
      // A streamed answer still running at the deadline is cut off (its head is out, so
      // a 504 is no longer possible): the client sees the connection close.
      if (expired->streaming()) {
        LogShim("call " + expired->id() + ": streamed response cut off at the timeout");
        runner_.Abandon(expired);
      }
      return;
    }
    LogShim("call " + expired->id() + " timed out after " +
            std::to_string(config_.timeout.count()) + " ms");
    expired->Finish(ErrorReply(
        504, "function timed out after " + std::to_string(config_.timeout.count()) + " ms",
        expired->id()));
    runner_.Abandon(expired);
  });
  runner_.Invoke(call);
}

void ShimServer::HungUp(const std::shared_ptr<Call>& call) {
  auto it = calls_.find(call->id());
  if (it == calls_.end() || it->second != call) return;  // over already
  LogShim("call " + call->id() + ": the client closed its connection; call abandoned");
  call->Abandon();  // a streamed answer's slot is free once the runner ends the stream
  runner_.Abandon(call);
}

std::size_t ShimServer::AbandonHungUp() {
  std::size_t abandoned = 0;
  for (auto& [id, call] : std::map(calls_)) {
    ClientConnection* client = call->client();
    if (client == nullptr || !client->HungUp()) continue;
    HungUp(call);
    ++abandoned;
  }
  return abandoned;
}

void ShimServer::OnSignal(int signal) {
  if (stopping_ || admission_.draining()) {
    LogShim("second signal: stopping now");
    for (auto& [id, call] : std::map(calls_)) {
      call->Finish(ErrorReply(503, "shim stopped before the call finished", id));
    }
    StopFunction();
    return;
  }
  LogShim(std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") + ": draining " +
          std::to_string(admission_.inflight()) + " call(s), grace " +
          std::to_string(config_.grace.count()) + " ms");
  admission_.StartDrain();
  drain_timer_.expires_after(config_.grace);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    LogShim("grace period over with " + std::to_string(admission_.inflight()) +
            " call(s) in flight");
    for (auto& [id, call] : std::map(calls_)) {
      call->Finish(ErrorReply(503, "shim stopped before the call finished", id));
    }
    StopFunction();
  });
  CheckDrained();
}

void ShimServer::CheckDrained() {
  if (admission_.Drained() && !stopping_) StopFunction();
}

void ShimServer::StopFunction() {
  if (stopping_) {
    runner_.Stop(SIGKILL);
    return;
  }
  stopping_ = true;
  drain_timer_.cancel();
  listener_.Close();
  runner_.Stop(SIGTERM);
  // The function gets what is left of a short grace of its own, then SIGKILL.
  WaitForExit(clock_.Now() + std::chrono::milliseconds(2000));
}

void ShimServer::WaitForExit(std::chrono::steady_clock::time_point kill_at) {
  if (!runner_.Running()) {
    Finish(exit_code_);
    return;
  }
  if (clock_.Now() >= kill_at) {
    LogShim("function did not stop after SIGTERM: SIGKILL");
    runner_.Stop(SIGKILL);
    kill_at = clock_.Now() + std::chrono::milliseconds(500);
  }
  exit_timer_.expires_after(std::chrono::milliseconds(10));
  exit_timer_.async_wait([this, kill_at](const boost::system::error_code& ec) {
    if (!ec) WaitForExit(kill_at);
  });
}

void ShimServer::Finish(int exit_code) {
  if (finished_) return;
  finished_ = true;
  exit_code_ = exit_code;
  listener_.Close();
  // Let the last responses leave their sockets before the io loop stops.
  exit_timer_.expires_after(std::chrono::milliseconds(50));
  exit_timer_.async_wait([this](const boost::system::error_code&) {
    LogShim("stopped");
    io_.stop();
  });
}

void ShimServer::Fatal(int exit_code, const std::string& message) {
  LogShim("function can't run: " + message);
  exit_code_ = exit_code;
  for (auto& [id, call] : std::map(calls_)) {
    call->Finish(ErrorReply(502, "function can't run: " + message, id));
  }
  admission_.StartDrain();
  if (!stopping_) StopFunction();
}

}  // namespace gantry::shim
