#include "daemon/api_support.h"

#include <fmt/format.h>

namespace gantry::daemon {
namespace {

using nlohmann::json;

std::string Find(const std::map<std::string, std::string>& map, const char* key) {
  auto it = map.find(key);
  return it == map.end() ? "" : it->second;
}

}  // namespace

gateway::ApiResponse JsonResponse(int status, const json& body) {
  return gateway::ApiResponse{.status = status, .body = body.dump() + "\n"};
}

core::Result<json> JsonObjectBody(const gateway::ApiRequest& request) {
  json j = json::parse(request.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return core::Error::InvalidArgument("the body must be a JSON object");
  }
  return j;
}

std::string StringField(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string PathParam(const gateway::ApiRequest& request, const char* key) {
  return Find(request.params, key);
}

std::string QueryParam(const gateway::ApiRequest& request, const char* key) {
  return Find(request.query, key);
}

std::string HeaderValue(const gateway::ApiRequest& request, const char* key) {
  return Find(request.headers, key);
}

core::Result<int64_t> ReplicasField(const json& body) {
  auto it = body.find("replicas");
  if (it == body.end() || !it->is_number_integer()) {
    return core::Error::InvalidArgument("\"replicas\" must be an integer");
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return core::Error::InvalidArgument(
        fmt::format("\"replicas\" {} is out of range", it->get<uint64_t>()));
  }
  return it->get<int64_t>();
}

bool ValidUtf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();  // throws on invalid UTF-8: the only way we use it
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gantry::daemon
