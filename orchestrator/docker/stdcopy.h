#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "docker/types.h"

namespace gantry::docker {

// Decodes the engine's multiplexed stdout/stderr stream ("stdcopy"): frames of an 8-byte
// header [stream, 0, 0, 0, size as big-endian uint32] followed by `size` bytes. Bytes may
// be fed in pieces split anywhere; each frame's payload is delivered in pieces as it
// arrives, so a large frame is never held whole. Not thread-safe.
class StdcopyDecoder {
 public:
  // Called with consecutive pieces of a frame's payload; return false to stop.
  using PayloadFn = std::function<bool(Stream stream, std::string_view data)>;

  explicit StdcopyDecoder(PayloadFn on_payload) : on_payload_(std::move(on_payload)) {}

  // Consumes `bytes`. Returns false when the consumer asked to stop; kInternal when a
  // header is malformed (a stream id other than 0, 1 or 2, or non-zero padding).
  core::Result<bool> Feed(std::string_view bytes);

  // True when no partial frame is pending: the stream may end here.
  bool AtFrameBoundary() const { return header_len_ == 0 && remaining_ == 0; }

 private:
  PayloadFn on_payload_;
  std::array<unsigned char, 8> header_{};
  std::size_t header_len_ = 0;
  uint32_t remaining_ = 0;
  Stream stream_ = Stream::kStdout;
};

// Joins payload pieces into lines, separately per stream, so a line split across frames
// (or two lines in one frame) comes out as whole lines without their '\n'. A line longer
// than `max_line` is delivered in pieces of that size. Not thread-safe.
class LineAssembler {
 public:
  using LineFn = std::function<bool(Stream stream, std::string_view line)>;

  explicit LineAssembler(LineFn on_line, std::size_t max_line = std::size_t{64} * 1024)
      : on_line_(std::move(on_line)), max_line_(max_line) {}

  // Returns false when the consumer asked to stop.
  bool Feed(Stream stream, std::string_view data);
  // Delivers unterminated trailing text of each stream as a last line.
  bool Flush();

 private:
  LineFn on_line_;
  std::size_t max_line_;
  std::array<std::string, 3> pending_;
};

}  // namespace gantry::docker
