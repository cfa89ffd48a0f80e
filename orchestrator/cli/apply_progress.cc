#include "cli/apply_progress.h"

#include <fmt/format.h>

namespace gantry::cli {
namespace {

// At most `columns` display columns of `text` (bytes, but never cutting a UTF-8 sequence),
// tabs and other control characters turned into spaces so the line stays one line.
std::string Fit(std::string_view text, std::size_t columns) {
  std::string out;
  std::size_t shown = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    bool continuation = (c & 0xC0) == 0x80;
    if (!continuation && shown == columns) break;
    if (!continuation) ++shown;
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  }
  return out;
}

}  // namespace

core::Result<ProgressMode> ResolveProgressMode(std::string_view flag, bool stdout_is_terminal,
                                               std::string_view ci_env) {
  if (flag == "plain") return ProgressMode::kPlain;
  if (flag == "quiet") return ProgressMode::kQuiet;
  if (flag == "tty") return ProgressMode::kTerminal;
  if (flag != "auto" && !flag.empty()) {
    return core::Error::InvalidArgument(fmt::format(
        "gantry apply: --progress must be auto, plain, tty or quiet, not \"{}\"", flag));
  }
  if (stdout_is_terminal) return ProgressMode::kTerminal;
  bool ci = !ci_env.empty() && ci_env != "false" && ci_env != "0";
  return ci ? ProgressMode::kPlain : ProgressMode::kQuiet;
}

ApplyProgressView::ApplyProgressView(ProgressMode mode, const std::string& function, std::FILE* out,
                                     std::FILE* err, std::size_t columns)
    : mode_(mode),
      prefix_("function.gantry.dev/" + function + " | "),
      out_(out),
      err_(err),
      columns_(columns < 20 ? 20 : columns) {}

void ApplyProgressView::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    std::size_t nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(chunk);
      return;
    }
    partial_.append(chunk.substr(0, nl));
    chunk.remove_prefix(nl + 1);
    std::string line = std::move(partial_);
    partial_.clear();
    OnLine(line);
  }
}

void ApplyProgressView::ClearLive() {
  if (!live_) return;
  std::fputs("\r\33[2K", out_);
  live_ = false;
}

void ApplyProgressView::OnLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return;  // not ours: nothing to show
  std::string type = j.value("type", "");
  if (type.empty() && j.contains("result")) type = "result";
  if (type == "result") {
    outcome_ = j;
    return;
  }
  if (type == "error") {
    std::string message = j.value("error", "");
    if (message.empty()) message = fmt::format("HTTP {}", j.value("status", 500));
    outcome_ = core::Error::InvalidArgument(message);
    return;
  }
  if (type != "step" && type != "output") return;
  std::string text = j.value("text", "");
  switch (mode_) {
    case ProgressMode::kQuiet:
      return;
    case ProgressMode::kPlain:
      std::fprintf(err_, "%s%s\n", prefix_.c_str(), text.c_str());
      std::fflush(err_);
      return;
    case ProgressMode::kTerminal:
      ClearLive();
      if (type == "step") {
        std::size_t room = columns_ > prefix_.size() + 10 ? columns_ - prefix_.size() : 10;
        std::fprintf(out_, "%s%s\n", prefix_.c_str(), Fit(text, room).c_str());
      } else {
        std::fprintf(out_, "  %s", Fit(text, columns_ - 3).c_str());
        live_ = true;
      }
      std::fflush(out_);
      return;
  }
}

core::Result<nlohmann::json> ApplyProgressView::Finish() {
  if (!partial_.empty()) {
    std::string line = std::move(partial_);
    partial_.clear();
    OnLine(line);
  }
  ClearLive();
  std::fflush(out_);
  if (!outcome_) {
    return core::Error::Unavailable("gantryd's answer ended before the apply's outcome");
  }
  return *outcome_;
}

}  // namespace gantry::cli
