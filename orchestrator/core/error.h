#pragma once

#include <string>
#include <string_view>

namespace gantry::core {

// The handful of error classes every module speaks (after containerd's errdefs). A module
// maps its own failures onto these once; the gateway maps them to HTTP status codes once.
enum class ErrorCode {
  kInvalidArgument,  // the caller sent something malformed or out of range
  kNotFound,         // the named object does not exist
  kAlreadyExists,    // creating something whose name is taken
  kConflict,         // the object is in a state that forbids the operation
  kUnavailable,      // a dependency (the engine, a socket) cannot be reached; retry may help
  kTimeout,          // the operation did not finish in time
  kCancelled,        // the caller asked to stop
  kInternal,         // anything else: a bug or an unexpected answer
};

// Returns a stable lower-case name for `code` ("not found", "conflict", ...).
std::string_view ErrorCodeName(ErrorCode code);

// An error value: a class and a human-readable message. Context is added as the error
// travels up (`build "echo": POST /build: no such image`). Plain value type, copyable.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Error InvalidArgument(std::string msg) {
    return {ErrorCode::kInvalidArgument, std::move(msg)};
  }
  static Error NotFound(std::string msg) { return {ErrorCode::kNotFound, std::move(msg)}; }
  static Error AlreadyExists(std::string msg) {
    return {ErrorCode::kAlreadyExists, std::move(msg)};
  }
  static Error Conflict(std::string msg) { return {ErrorCode::kConflict, std::move(msg)}; }
  static Error Unavailable(std::string msg) { return {ErrorCode::kUnavailable, std::move(msg)}; }
  static Error Timeout(std::string msg) { return {ErrorCode::kTimeout, std::move(msg)}; }
  static Error Cancelled(std::string msg) { return {ErrorCode::kCancelled, std::move(msg)}; }
  static Error Internal(std::string msg) { return {ErrorCode::kInternal, std::move(msg)}; }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>", same code.
  Error WithContext(std::string_view context) const;

  // "<code name>: <message>", for logs and tests.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
};

}  // namespace gantry::core
