#include "pool/failure_reason.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "spec/quantity.h"

namespace gantry::pool {
namespace {

constexpr std::string_view kShimPrefix = "gantry-shim: ";
constexpr std::string_view kInitError = "handler init error: ";
constexpr std::string_view kCantRun = "function can't run: ";
// A reason or a log line in a status or an error body is one line a person reads.
constexpr std::size_t kMaxText = 600;

// A log line as the analysis sees it: the function's text (prefix off) or the shim's.
struct Line {
  std::string_view text;
  bool shim = false;  // "gantry-shim: ..." (text without that prefix)
};

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\r' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool Blank(std::string_view s) {
  return TrimLeft(TrimRight(s)).empty();
}

std::vector<Line> Classify(const std::vector<LogLine>* lines) {
  std::vector<Line> out;
  if (lines == nullptr) return out;
  out.reserve(lines->size());
  for (const LogLine& l : *lines) {
    std::string_view text = TrimRight(l.text);
    if (text.starts_with(kShimPrefix)) {
      out.push_back({text.substr(kShimPrefix.size()), true});
    } else {
      out.push_back({StripShimPrefix(text), false});
    }
  }
  return out;
}

// At most kMaxText bytes, cut at a UTF-8 character boundary.
std::string Bounded(std::string text) {
  if (text.size() <= kMaxText) return text;
  std::size_t cut = kMaxText;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  text += "...";
  return text;
}

std::string_view FirstLine(std::string_view s) {
  return TrimRight(s.substr(0, s.find('\n')));
}

// "Type: message", or the message alone for node's plain Error.
std::string ErrorText(std::string_view type, std::string_view message) {
  if (type.empty() || type == "Error") return std::string(message);
  if (message.empty()) return std::string(type);
  return fmt::format("{}: {}", type, message);
}

bool IsIdentifierStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsIdentifierChar(char c) {
  return IsIdentifierStart(c) || (c >= '0' && c <= '9') || c == '.';
}

// "ModuleNotFoundError: No module named 'x'" or "KeyboardInterrupt": a Python exception
// line ends a traceback. Returns the type's length, or 0.
std::size_t ExceptionTypeLength(std::string_view line) {
  if (line.empty() || !IsIdentifierStart(line.front())) return 0;
  std::size_t n = 1;
  while (n < line.size() && IsIdentifierChar(line[n])) ++n;
  if (n == line.size() || line.substr(n).starts_with(": ")) return n;
  return 0;
}

struct HandlerError {
  std::size_t at = 0;  // the line it was found on (the latest one wins)
  std::string text;    // "ModuleNotFoundError: No module named 'requests'"
  bool at_import = false;
};

// The Lambda Runtime API init error the shim logged: {"errorType", "errorMessage"}.
std::optional<HandlerError> InitError(const std::vector<Line>& lines) {
  for (std::size_t i = lines.size(); i-- > 0;) {
    if (!lines[i].shim || !lines[i].text.starts_with(kInitError)) continue;
    // "Type: message" (the shim since issue 13), or the payload as JSON (older shims).
    std::string_view rest = lines[i].text.substr(kInitError.size());
    auto body = nlohmann::json::parse(rest, nullptr, false);
    std::string text;
    if (body.is_object()) {
      std::string type = body.value("errorType", "");
      std::string message = body.value("errorMessage", "");
      text = ErrorText(type, FirstLine(message));
    } else {
      text = rest.starts_with("Error: ") ? rest.substr(7) : rest;
    }
    if (text.empty()) continue;
    return HandlerError{i, std::move(text), true};
  }
  return std::nullopt;
}

// The last Python traceback's exception.
std::optional<HandlerError> PythonError(const std::vector<Line>& lines) {
  for (std::size_t i = lines.size(); i-- > 0;) {
    if (lines[i].shim || TrimLeft(lines[i].text) != "Traceback (most recent call last):") {
      continue;
    }
    bool import = false;
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      if (lines[j].shim) continue;
      std::string_view text = lines[j].text;
      // The bootstrap's frame (a replica that never got ready also counts as an import).
      if (text.find("in load_handler") != std::string_view::npos) import = true;
      if (text.empty() || text.front() == ' ' || text.front() == '\t') continue;
      std::size_t type = ExceptionTypeLength(text);
      if (type == 0) break;  // not a traceback we can read
      std::string_view message = type < text.size() ? text.substr(type + 2) : "";
      return HandlerError{j, ErrorText(text.substr(0, type), message), import};
    }
  }
  return std::nullopt;
}

// The last node error stack: "TypeError: x is not a function" (or "Error: Cannot find
// module 'x'") followed by "    at ..." frames or "Require stack:".
std::optional<HandlerError> NodeError(const std::vector<Line>& lines) {
  for (std::size_t i = lines.size(); i-- > 0;) {
    if (lines[i].shim) continue;
    std::string_view text = lines[i].text;
    std::size_t colon = text.find(": ");
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view type = text.substr(0, colon);
    // "Error", "TypeError", "Error [ERR_REQUIRE_ESM]".
    std::string_view name = type.substr(0, type.find(" ["));
    if (!name.ends_with("Error") || ExceptionTypeLength(name) != name.size()) continue;
    bool stack = false;
    bool import = false;
    for (std::size_t j = i + 1; j < lines.size() && j <= i + 40; ++j) {
      if (lines[j].shim) continue;
      std::string_view next = TrimLeft(lines[j].text);
      if (next.starts_with("at ") || next == "Require stack:") stack = true;
      if (next.starts_with("at loadHandler")) import = true;
      if (!next.starts_with("at ") && !next.starts_with("- ") && next != "Require stack:") break;
    }
    if (!stack) continue;
    return HandlerError{i, ErrorText(name, text.substr(colon + 2)), import};
  }
  return std::nullopt;
}

std::optional<std::string> ShimFatal(const std::vector<Line>& lines) {
  for (std::size_t i = lines.size(); i-- > 0;) {
    if (lines[i].shim && lines[i].text.starts_with(kCantRun)) return std::string(lines[i].text);
  }
  return std::nullopt;
}

// A node stack frame ("    at f (file:1:2)"): never the line to quote.
bool IsStackFrame(std::string_view text) {
  return !text.empty() && (text.front() == ' ' || text.front() == '\t') &&
         TrimLeft(text).starts_with("at ");
}

// The last line worth quoting: the function's own (not a stack frame), else the shim's.
std::optional<std::string> LastLine(const std::vector<Line>& lines) {
  for (bool shim : {false, true}) {
    for (std::size_t i = lines.size(); i-- > 0;) {
      if (lines[i].shim == shim && !Blank(lines[i].text) && !IsStackFrame(lines[i].text)) {
        return std::string(TrimLeft(lines[i].text));
      }
    }
  }
  return std::nullopt;
}

// The handler's own error: a traceback or stack names the exception best; an init error
// (the same one, or one of a runtime that prints none) means it was the handler's load.
std::optional<HandlerError> FindHandlerError(const std::vector<Line>& lines) {
  std::optional<HandlerError> error = PythonError(lines);
  if (auto node = NodeError(lines); node && (!error || node->at > error->at)) error = node;
  if (auto init = InitError(lines)) {
    if (error) {
      error->at_import = true;
    } else {
      error = std::move(init);
    }
  }
  return error;
}

std::string ExitText(int code, bool before_ready) {
  std::string text;
  const char* signal = nullptr;
  const char* what = "crashed";
  switch (code - 128) {
    case 1:
      signal = "SIGHUP", what = "terminated";
      break;
    case 2:
      signal = "SIGINT", what = "interrupted";
      break;
    case 4:
      signal = "SIGILL";
      break;
    case 6:
      signal = "SIGABRT";
      break;
    case 7:
      signal = "SIGBUS";
      break;
    case 8:
      signal = "SIGFPE";
      break;
    case 9:
      signal = "SIGKILL", what = "killed";
      break;
    case 11:
      signal = "SIGSEGV";
      break;
    case 15:
      signal = "SIGTERM", what = "terminated";
      break;
    default:
      break;
  }
  if (signal != nullptr) {
    text = fmt::format("{} ({})", what, signal);
    if (before_ready) text += " before it was ready";
  } else {
    text = fmt::format("exited with code {}", code);
    if (before_ready) text += " before it was ready";
  }
  return text;
}

bool IsPathEnd(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == ')' ||
         c == ',' || c == ';' || c == ']' || c == '>' || c == '`';
}

bool IsPathStart(std::string_view text, std::size_t i) {
  if (text[i] != '/') return false;
  if (i == 0) return true;
  char before = text[i - 1];
  return IsPathEnd(before) || before == '(' || before == '[' || before == '=' || before == ':' ||
         before == '<';
}

// `path` is `dir` or below it.
bool Below(std::string_view path, std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir.empty() || !path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

}  // namespace

std::string_view StripShimPrefix(std::string_view text) {
  if (!text.starts_with('[')) return text;
  std::size_t close = text.find("] ");
  if (close > 160) return text;  // npos too
  if (text.substr(1, close - 1).find(' ') != std::string_view::npos) return text;
  std::string_view rest = text.substr(close + 2);
  for (std::string_view stream : {"stdout: ", "stderr: ", "error: "}) {
    if (rest.starts_with(stream)) return rest.substr(stream.size());
  }
  for (std::string_view stream : {"stdout:", "stderr:", "error:"}) {
    if (rest == stream) return "";
  }
  return text;
}

std::string ScrubHostPaths(std::string_view text, const std::vector<std::string>& host_dirs) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsPathStart(text, i)) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !IsPathEnd(text[end])) ++end;
    std::string_view path = text.substr(i, end - i);
    // A path quoted at the end of a sentence keeps its full stop and colon outside.
    while (path.size() > 1 && (path.back() == '.' || path.back() == ':')) path.remove_suffix(1);
    bool host = Below(path, "/var/lib/gantry");
    for (const std::string& dir : host_dirs) host = host || Below(path, dir);
    if (path.ends_with(".sock") || path.ends_with(".socket") ||
        path.find(".sock/") != std::string_view::npos) {
      out += "<socket>";
    } else if (host) {
      out += "<gantry dir>";
    } else {
      out.append(path);
    }
    i += path.size();
  }
  return out;
}

std::string LastLogLine(const std::vector<LogLine>& lines) {
  std::vector<Line> classified = Classify(&lines);
  std::optional<std::string> last;
  if (auto error = FindHandlerError(classified)) {
    last = std::string(TrimLeft(classified[error->at].text));
  } else if (auto fatal = ShimFatal(classified)) {
    last = std::move(fatal);
  } else {
    last = LastLine(classified);
  }
  return last ? Bounded(ScrubHostPaths(*last)) : std::string();
}

std::string DescribeFailure(const FailureFacts& facts) {
  std::vector<Line> lines = Classify(facts.last_lines);
  std::string reason;
  if (facts.oom) {
    reason = facts.memory_bytes > 0
                 ? fmt::format("out of memory ({})", spec::FormatMemory(facts.memory_bytes))
                 : "out of memory";
    return Bounded(ScrubHostPaths(reason));
  }
  std::optional<HandlerError> error = FindHandlerError(lines);
  if (error) {
    bool import = error->at_import || facts.before_ready;
    reason =
        fmt::format("{}: {}", import ? "handler import failed" : "handler failed", error->text);
  } else if (auto fatal = ShimFatal(lines)) {
    reason = std::move(*fatal);
  } else {
    auto last = LastLine(lines);
    if (facts.exit_code >= 0) {
      reason = ExitText(facts.exit_code, facts.before_ready);
    } else if (!facts.engine_reason.empty()) {
      reason = facts.engine_reason;
    }
    if (last) reason = reason.empty() ? *last : fmt::format("{}: {}", reason, *last);
    if (reason.empty()) {
      reason = facts.before_ready ? "stopped before it was ready for an unknown reason"
                                  : "stopped for an unknown reason";
    }
  }
  return Bounded(ScrubHostPaths(reason));
}

}  // namespace gantry::pool
