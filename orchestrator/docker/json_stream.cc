#include "docker/json_stream.h"

namespace gantry::docker {

core::Result<bool> JsonStreamDecoder::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    std::size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (pending_.size() + bytes.size() > max_message_) {
        return core::Error::Internal("engine sent a JSON message longer than the limit");
      }
      pending_.append(bytes);
      break;
    }
    core::Result<bool> r = true;
    if (pending_.empty()) {
      r = Emit(bytes.substr(0, nl));
    } else {
      pending_.append(bytes.substr(0, nl));
      std::string line = std::move(pending_);
      pending_.clear();
      r = Emit(line);
    }
    if (!r || !*r) return r;
    bytes.remove_prefix(nl + 1);
  }
  return true;
}

core::Result<bool> JsonStreamDecoder::Finish() {
  std::string line = std::move(pending_);
  pending_.clear();
  return Emit(line);
}

core::Result<bool> JsonStreamDecoder::Emit(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\r')) text.remove_prefix(1);
  if (text.empty()) return true;
  nlohmann::json message = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    std::string shown(text.substr(0, 200));
    return core::Error::Internal("engine sent a message that is not JSON: " + shown);
  }
  return on_message_(message);
}

}  // namespace gantry::docker
