#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::docker {

// Splits the engine's streamed JSON messages (build progress, import status, events: one
// JSON object per line) fed in arbitrary pieces, and hands each parsed object on. Holds
// at most one partial message. Not thread-safe.
class JsonStreamDecoder {
 public:
  // Return false to stop.
  using MessageFn = std::function<bool(const nlohmann::json& message)>;

  explicit JsonStreamDecoder(MessageFn on_message,
                             std::size_t max_message = std::size_t{16} * 1024 * 1024)
      : on_message_(std::move(on_message)), max_message_(max_message) {}

  // Returns false when the consumer asked to stop; kInternal when a message is not JSON
  // or longer than the limit.
  core::Result<bool> Feed(std::string_view bytes);
  // Parses a trailing message that had no newline. Same results as Feed.
  core::Result<bool> Finish();

 private:
  core::Result<bool> Emit(std::string_view text);

  MessageFn on_message_;
  std::size_t max_message_;
  std::string pending_;
};

}  // namespace gantry::docker
