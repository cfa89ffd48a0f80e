#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/result.h"
#include "gateway/backend.h"

namespace gantry::gateway {

// The one place where core::ErrorCode becomes an HTTP status.

// For management handlers: kInvalidArgument 400, kNotFound 404, kAlreadyExists and
// kConflict 409, kUnavailable 503, kTimeout 504, anything else 500.
int ApiStatusFor(core::ErrorCode code);

// For InvokeBackend::Resolve failures: kNotFound 404 (no such function), kUnavailable 429
// (the function's queue is full), kTimeout 503 (no replica became free in time), anything
// else 502.
int InvokeStatusFor(core::ErrorCode code);

// A JSON error body: {"error": "<message>"}, plus "function": "<function>" when that is not
// empty.
std::string ErrorJson(std::string_view message, std::string_view function = {});

// A management handler's result as the response to send: the value itself, or the error as
// ApiStatusFor(code) with ErrorJson(message).
ApiResponse ToApiResponse(core::Result<ApiResponse> result);

}  // namespace gantry::gateway
