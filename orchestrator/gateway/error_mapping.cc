#include "gateway/error_mapping.h"

#include <boost/beast/http/error.hpp>
#include <nlohmann/json.hpp>

namespace gantry::gateway {

int RequestErrorStatus(const boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  if (!ec || ec.category() != http::make_error_code(http::error::bad_method).category()) return 0;
  if (ec == http::error::end_of_stream) return 0;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return 431;
  return 400;
}

int ApiStatusFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kInvalidArgument:
      return 400;
    case core::ErrorCode::kNotFound:
      return 404;
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kConflict:
      return 409;
    case core::ErrorCode::kUnavailable:
      return 503;
    case core::ErrorCode::kTimeout:
      return 504;
    case core::ErrorCode::kCancelled:
    case core::ErrorCode::kInternal:
      break;
  }
  return 500;
}

int InvokeStatusFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kNotFound:
      return 404;
    case core::ErrorCode::kUnavailable:
      return 429;
    case core::ErrorCode::kTimeout:
      return 503;
    default:
      break;
  }
  return 502;
}

std::string ErrorJson(std::string_view message, std::string_view function) {
  nlohmann::json body = {{"error", message}};
  if (!function.empty()) body["function"] = function;
  // Replace, not throw, on invalid UTF-8: messages may quote what a client sent.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string InvokeErrorJson(int status, std::string_view message, std::string_view function,
                            const FailureHint& hint) {
  const bool with_reason = !hint.reason.empty() && (status == 502 || !hint.serving);
  std::string text(message);
  if (with_reason) {
    text += ": ";
    text += hint.reason;
  }
  nlohmann::json body = {{"error", text}};
  if (!function.empty()) body["function"] = function;
  if (with_reason) body["reason"] = hint.reason;
  if (!hint.last_log_line.empty()) body["lastLog"] = hint.last_log_line;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiResponse ToApiResponse(core::Result<ApiResponse> result) {
  if (result) return std::move(result).value();
  ApiResponse r;
  r.status = ApiStatusFor(result.error().code());
  r.body = ErrorJson(result.error().message());
  return r;
}

}  // namespace gantry::gateway
