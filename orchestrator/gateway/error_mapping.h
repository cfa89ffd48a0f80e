#pragma once

#include <boost/system/error_code.hpp>
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

// For a client's request that Beast could not read on (an error of the http category):
// body_limit 413; header_limit and buffer_overflow 431 (header or trailer fields, or a
// chunk header, over the limits); anything else 400 (a stream that ends mid-message too:
// the caller may only have shut down its sending side). 0 for an error that is not the
// request's fault (a transport error, end of stream before a request), which gets no answer.
int RequestErrorStatus(const boost::system::error_code& ec);

// A JSON error body: {"error": "<message>"}, plus "function": "<function>" when that is not
// empty.
std::string ErrorJson(std::string_view message, std::string_view function = {});

// The body of a call that failed before its replica answered, which the gateway answers
// itself: {"error": "<message>: <reason>", "function": "<function>", "reason": "<reason>",
// "lastLog": "<the function's last log line>"}; "reason" and "lastLog" only when `hint` has
// them, and the reason only for a 502 (the replica failed) or while no replica serves (for
// a 503 or 504 with replicas serving, the reason would be about an older failure).
std::string InvokeErrorJson(int status, std::string_view message, std::string_view function,
                            const FailureHint& hint);

// A management handler's result as the response to send: the value itself, or the error as
// ApiStatusFor(code) with ErrorJson(message).
ApiResponse ToApiResponse(core::Result<ApiResponse> result);

}  // namespace gantry::gateway
