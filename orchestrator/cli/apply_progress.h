#pragma once

#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gantry::cli {

// How `gantry apply` shows a build (--progress):
//   kTerminal  the step lines, and the latest output line rewritten in place (like docker
//              build), on stdout: a terminal
//   kPlain     every step and output line as it comes, "function.gantry.dev/NAME | ...",
//              on stderr (stdout keeps only the result lines scripts read)
//   kQuiet     the result lines only
enum class ProgressMode { kTerminal, kPlain, kQuiet };

// --progress auto|plain|quiet|tty: auto is kTerminal when stdout is a terminal, kPlain in a
// CI job (the environment's CI is set and not "false" or "0": GitHub Actions, GitLab, ...),
// else kQuiet (a pipe or a script reading the result lines: as before). kInvalidArgument
// for any other value.
core::Result<ProgressMode> ResolveProgressMode(std::string_view flag, bool stdout_is_terminal,
                                               std::string_view ci_env);

// Renders one function's apply answer in the NDJSON of gantryd's streamed apply
// (daemon/apply_stream.h: step and output lines, then a result or an error line) as it
// arrives, in a ProgressMode, and keeps its outcome. A line without "type" that has
// "result" is an older gantryd's whole JSON answer: the outcome. Not thread-safe.
class ApplyProgressView {
 public:
  // `columns`: the terminal's width (kTerminal cuts the rewritten line to fit).
  ApplyProgressView(ProgressMode mode, const std::string& function, std::FILE* out, std::FILE* err,
                    std::size_t columns = 80);

  // A piece of the body as it came; whole lines are rendered, the rest waits.
  void Feed(std::string_view chunk);
  // The end of the body: renders a last unterminated line, clears the rewritten line, and
  // returns the outcome: the result line's JSON; kInvalidArgument with the error line's
  // message; kUnavailable when the answer ended before either.
  core::Result<nlohmann::json> Finish();

 private:
  void OnLine(std::string_view line);
  void ClearLive();

  ProgressMode mode_;
  std::string prefix_;  // "function.gantry.dev/NAME | "
  std::FILE* out_;
  std::FILE* err_;
  std::size_t columns_;
  std::string partial_;
  bool live_ = false;  // kTerminal: a rewritten line is showing
  std::optional<core::Result<nlohmann::json>> outcome_;
};

}  // namespace gantry::cli
