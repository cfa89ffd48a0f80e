#include "log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace gantry::shim {

namespace {

void WriteAll(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log to: drop the line rather than block the shim
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void LogShim(std::string_view text) {
  std::string line = "gantry-shim: ";
  line.append(text);
  line += '\n';
  WriteAll(line);
}

void LogFunctionLine(std::string_view call_id, std::string_view stream, std::string_view line) {
  std::string out;
  out.reserve(call_id.size() + stream.size() + line.size() + 8);
  out += '[';
  out.append(call_id.empty() ? std::string_view("-") : call_id);
  out += "] ";
  out.append(stream);
  out += ": ";
  out.append(line);
  out += '\n';
  WriteAll(out);
}

}  // namespace gantry::shim
