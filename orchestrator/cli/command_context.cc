#include "cli/command_context.h"

#include <fmt/format.h>

#include "spec/duration.h"

namespace gantry::cli {

int CommandContext::Fail(const std::string& message) const {
  std::fprintf(err, "%s\n", message.c_str());
  return 1;
}

core::Result<Reply> CheckedCall(ApiClient& api, const std::string& verb, const std::string& method,
                                const std::string& path, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  auto reply = api.Call(method, path, body, headers);
  if (!reply) return reply.error().WithContext("gantry " + verb);
  if (reply->status >= 300) {
    return core::Error::InvalidArgument(fmt::format("gantry {}: {}", verb, reply->ErrorMessage()));
  }
  return reply;
}

bool IsFunctionKind(const std::string& kind) {
  return kind == "functions" || kind == "function" || kind == "fn" ||
         kind == "functions.gantry.dev";
}

core::Result<std::chrono::milliseconds> ParseDurationFlag(const std::string& verb,
                                                          const std::string& flag,
                                                          const std::string& text) {
  auto d = spec::ParseDuration(text);
  if (!d) return d.error().WithContext(fmt::format("gantry {}: {}", verb, flag));
  return d;
}

}  // namespace gantry::cli
