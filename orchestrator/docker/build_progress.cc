#include "docker/build_progress.h"

namespace gantry::docker {

bool BuildProgress::OnMessage(const nlohmann::json& message) {
  if (!message.is_object()) return true;
  if (auto it = message.find("stream"); it != message.end() && it->is_string()) {
    OnText(it->get_ref<const std::string&>());
  }
  if (auto it = message.find("status"); it != message.end() && it->is_string()) {
    OnLine(it->get_ref<const std::string&>());
  }
  if (auto aux = message.find("aux"); aux != message.end() && aux->is_object()) {
    if (auto id = aux->find("ID"); id != aux->end() && id->is_string())
      image_id_ = id->get<std::string>();
  }
  std::string error;
  if (auto detail = message.find("errorDetail"); detail != message.end() && detail->is_object()) {
    if (auto m = detail->find("message"); m != detail->end() && m->is_string())
      error = m->get<std::string>();
  }
  if (auto e = message.find("error"); error.empty() && e != message.end() && e->is_string()) {
    error = e->get<std::string>();
  }
  if (!error.empty() && !error_) error_ = error;
  return true;
}

void BuildProgress::OnText(std::string_view text) {
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(text);
      return;
    }
    partial_.append(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    std::string line = std::move(partial_);
    partial_.clear();
    OnLine(line);
  }
}

void BuildProgress::OnLine(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (on_line_) on_line_(line);
  if (line.rfind("Step ", 0) == 0) {
    step_ = line;
    tail_.clear();
    return;
  }
  static constexpr std::string_view kBuilt = "Successfully built ";
  if (line.rfind(kBuilt, 0) == 0 && image_id_.empty()) image_id_ = line.substr(kBuilt.size());
  // The engine's own bookkeeping says nothing about why a step failed.
  if (line.empty() || line.rfind(" ---> ", 0) == 0 ||
      line.rfind("Removing intermediate container", 0) == 0)
    return;
  tail_.emplace_back(line);
  if (tail_.size() > tail_lines_) tail_.pop_front();
}

core::Result<std::string> BuildProgress::Outcome() {
  if (!partial_.empty()) {
    std::string line = std::move(partial_);
    partial_.clear();
    OnLine(line);
  }
  if (error_) {
    std::string msg;
    if (!step_.empty()) {
      // "Step 2/3 : RUN exit 3" -> step 2/3 "RUN exit 3" failed
      std::string_view s = step_;
      s.remove_prefix(5);
      std::size_t colon = s.find(" : ");
      std::string_view number = s.substr(0, colon);
      std::string_view instruction = colon == std::string_view::npos ? "" : s.substr(colon + 3);
      msg = "step " + std::string(number) + " \"" + std::string(instruction) + "\" failed: ";
    } else {
      msg = "build failed: ";
    }
    msg += *error_;
    if (!tail_.empty()) {
      msg += "\noutput of the failing step (last lines):";
      for (const std::string& l : tail_) msg += "\n  " + l;
    }
    return core::Error::InvalidArgument(std::move(msg));
  }
  if (image_id_.empty())
    return core::Error::Internal("build stream ended without an image id or an error");
  return image_id_;
}

}  // namespace gantry::docker
