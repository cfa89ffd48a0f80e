#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "gateway/backend.h"

namespace gantry::daemon {

// What every API resource file (resource_*.cc, openfaas_*.cc) reads requests and writes
// answers with. A handler returns an error for the gateway to map once
// (gateway/error_mapping.h: kInvalidArgument 400, kNotFound 404, kConflict 409, ...).

// A JSON answer: `body` dumped, with a trailing newline.
gateway::ApiResponse JsonResponse(int status, const nlohmann::json& body);

// The request body as a JSON object; kInvalidArgument when it is not valid JSON or not an
// object.
core::Result<nlohmann::json> JsonObjectBody(const gateway::ApiRequest& request);

// body[key] when it is a string; "" when it is missing or of another type.
std::string StringField(const nlohmann::json& body, const char* key);

// The route pattern's {key}, the query's ?key= and the (lower-case) header `key` of the
// request; "" when absent.
std::string PathParam(const gateway::ApiRequest& request, const char* key);
std::string QueryParam(const gateway::ApiRequest& request, const char* key);
std::string HeaderValue(const gateway::ApiRequest& request, const char* key);

// `j` as one line of JSON, with any invalid UTF-8 in its strings replaced (U+FFFD) rather
// than thrown on: what a function, a caller or a log line sends can't make it fail.
std::string DumpJson(const nlohmann::json& j);

// Whether `text` is valid UTF-8 (a JSON string can hold it; otherwise it goes as base64).
bool ValidUtf8(const std::string& text);

// body["replicas"] as a whole number (both APIs' scale calls): kInvalidArgument when it is
// missing, not an integer, or beyond a signed 64-bit integer — never truncated. Whether it
// is within the function's bounds is Controller::Scale's to say.
core::Result<int64_t> ReplicasField(const nlohmann::json& body);

}  // namespace gantry::daemon
