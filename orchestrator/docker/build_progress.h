#pragma once

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::docker {

// Follows the JSON messages of POST /build: passes each line of output on, remembers the
// current "Step N/M : ..." and the last lines of output since it, the image id (aux.ID or
// "Successfully built"), and an error message in the middle of the stream. Not thread-safe.
class BuildProgress {
 public:
  using LineFn = std::function<void(std::string_view line)>;

  explicit BuildProgress(LineFn on_line, std::size_t tail_lines = 20)
      : on_line_(std::move(on_line)), tail_lines_(tail_lines) {}

  // Consumes one message of the stream. Always returns true (keep reading): an error
  // message is recorded, and the engine ends the stream after it.
  bool OnMessage(const nlohmann::json& message);

  // The build's outcome once the stream ended: the image id; or a kInvalidArgument error
  // `step 2/3 "RUN exit 3" failed: <engine message>` followed by the last lines of that
  // step's output; or kInternal when the stream ended with neither an id nor an error.
  core::Result<std::string> Outcome();

  const std::string& current_step() const { return step_; }

 private:
  void OnText(std::string_view text);
  void OnLine(std::string_view line);

  LineFn on_line_;
  std::size_t tail_lines_;
  std::string partial_;
  std::string step_;
  std::deque<std::string> tail_;
  std::string image_id_;
  std::optional<std::string> error_;
};

}  // namespace gantry::docker
