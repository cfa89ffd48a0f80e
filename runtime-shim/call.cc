#include "call.h"

namespace gantry::shim {

namespace http = boost::beast::http;

Call::Call(std::string id, HttpRequest request, std::chrono::steady_clock::time_point deadline,
           Responder respond)
    : id_(std::move(id)), request_(std::move(request)), deadline_(deadline), respond_(std::move(respond)) {
  meta_.method = std::string(request_.method_string());
  std::tie(meta_.path, meta_.query) = SplitTarget(request_.target());
  for (const auto& field : request_) {
    meta_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
}

bool Call::Finish(const FunctionReply& reply) {
  HttpResponse response{static_cast<http::status>(reply.status), request_.version()};
  for (const auto& [name, value] : reply.headers) response.insert(name, value);
  response.body() = reply.body;
  return Finish(std::move(response));
}

bool Call::Finish(HttpResponse response) {
  if (finished_) return false;
  finished_ = true;
  response.set("X-Call-Id", id_);
  response.prepare_payload();
  Responder respond = std::move(respond_);
  respond_ = nullptr;
  respond(std::move(response));
  if (on_finished_) {
    auto fn = std::move(on_finished_);
    on_finished_ = nullptr;
    fn();
  }
  return true;
}

}  // namespace gantry::shim
