#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "request_meta.h"

namespace gantry::shim {

// What a function answered, before it becomes an HTTP response.
struct FunctionReply {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The Lambda event for one HTTP request, in the API Gateway HTTP API (payload 2.0) shape so
// existing Lambda handlers understand it: version, routeKey, rawPath, rawQueryString,
// headers (lower-case names, repeats joined with ","), queryStringParameters,
// requestContext{http{method,path}, requestId, timeEpoch}, body, isBase64Encoded (bodies
// that aren't valid UTF-8 are base64-encoded).
std::string BuildLambdaEvent(const RequestMeta& meta, std::string_view body,
                             std::string_view call_id, int64_t now_unix_ms);

// Turns a handler's response payload into the HTTP reply. A JSON object with a numeric
// "statusCode" is structured (statusCode, headers, cookies, body, isBase64Encoded); any
// other payload is the body of a 200 with Content-Type application/json, as API Gateway
// does. A statusCode outside 100..599 becomes a 502.
FunctionReply DecodeLambdaResponse(std::string_view payload);

// A handler's error payload ({"errorMessage", "errorType", "stackTrace"}) as the 500 the
// caller sees: a JSON body {"error": message, "type": type, "callId": id}.
FunctionReply DecodeLambdaError(std::string_view payload, std::string_view call_id);

// A handler's error payload in one line: "<errorType>: <errorMessage's first line>"
// ("ModuleNotFoundError: No module named 'requests'"), the message alone for a plain
// "Error" (node: "Cannot find module 'x'"), or the payload's first line (at most 1 KiB)
// when it is not such JSON. The stack trace is left out: runtimes print it themselves.
std::string DescribeLambdaError(std::string_view payload);

// A JSON error body {"error": message, "callId": id} with the given status.
FunctionReply ErrorReply(unsigned status, std::string_view message, std::string_view call_id);

bool IsValidUtf8(std::string_view text);
std::string Base64Encode(std::string_view bytes);
// Empty on malformed input.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace gantry::shim
