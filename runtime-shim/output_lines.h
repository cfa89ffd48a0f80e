#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace gantry::shim {

// Cuts a byte stream (a function's stdout or stderr) into lines for the log. Bytes arrive
// in arbitrary chunks; each complete line is passed to the sink without its '\n' (and
// without a trailing '\r'). A line longer than `max_line` is passed on in pieces of
// `max_line` bytes so a function that never writes '\n' can't grow the shim's memory.
// Not thread-safe.
class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;

  LineSplitter(std::size_t max_line, Sink sink)
      : max_line_(max_line > 0 ? max_line : 1), sink_(std::move(sink)) {}

  void Feed(std::string_view bytes);
  // Passes on what is left after the last '\n' (end of stream), if anything.
  void Flush();

 private:
  std::size_t max_line_;
  Sink sink_;
  std::string partial_;
};

// Keeps the last `capacity` bytes written to it: the tail of a function's stderr that an
// exec-mode 500 carries. Not thread-safe.
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t capacity) : capacity_(capacity) {}

  void Append(std::string_view bytes);
  // The kept bytes; starts with "..." when earlier bytes were dropped.
  std::string Text() const;

 private:
  std::size_t capacity_;
  std::string data_;
  bool truncated_ = false;
};

}  // namespace gantry::shim
