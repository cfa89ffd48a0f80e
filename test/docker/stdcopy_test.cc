#include "docker/stdcopy.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace gantry::docker {
namespace {

std::string Frame(Stream stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  auto n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>((n >> 24) & 0xFF);
  f[5] = static_cast<char>((n >> 16) & 0xFF);
  f[6] = static_cast<char>((n >> 8) & 0xFF);
  f[7] = static_cast<char>(n & 0xFF);
  return f + std::string(payload);
}

using Lines = std::vector<std::pair<Stream, std::string>>;

// Decodes `bytes` fed in the pieces given by `cuts` (offsets) into lines.
Lines Decode(std::string_view bytes, const std::vector<std::size_t>& cuts) {
  Lines lines;
  LineAssembler assembler([&](Stream s, std::string_view line) {
    lines.emplace_back(s, std::string(line));
    return true;
  });
  StdcopyDecoder decoder([&](Stream s, std::string_view data) { return assembler.Feed(s, data); });
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    auto r = decoder.Feed(bytes.substr(from, cut - from));
    REQUIRE(r.ok());
    from = cut;
  }
  REQUIRE(decoder.Feed(bytes.substr(from)).ok());
  REQUIRE(decoder.AtFrameBoundary());
  assembler.Flush();
  return lines;
}

TEST_CASE("stdcopy frames decode identically however the bytes are split", "[docker][stdcopy]") {
  // A line split across two frames, two lines in one frame, an empty frame, interleaved
  // streams, and an unterminated last line.
  std::string bytes = Frame(Stream::kStdout, "hel") + Frame(Stream::kStderr, "oops\n") +
                      Frame(Stream::kStdout, "lo\nworld\n") + Frame(Stream::kStdout, "") +
                      Frame(Stream::kStderr, "tail");
  const Lines expected = {{Stream::kStderr, "oops"},
                          {Stream::kStdout, "hello"},
                          {Stream::kStdout, "world"},
                          {Stream::kStderr, "tail"}};

  CHECK(Decode(bytes, {}) == expected);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    INFO("split at byte " << cut);
    CHECK(Decode(bytes, {cut}) == expected);
  }
  // Byte by byte: every boundary at once.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
  CHECK(Decode(bytes, every) == expected);
}

TEST_CASE("a partial frame is not at a boundary", "[docker][stdcopy]") {
  std::string bytes = Frame(Stream::kStdout, "abc\n");
  StdcopyDecoder decoder([](Stream, std::string_view) { return true; });
  REQUIRE(decoder.Feed(bytes.substr(0, 10)).ok());
  CHECK_FALSE(decoder.AtFrameBoundary());
  REQUIRE(decoder.Feed(bytes.substr(10)).ok());
  CHECK(decoder.AtFrameBoundary());
}

TEST_CASE("a malformed frame header is an error, not garbage", "[docker][stdcopy]") {
  StdcopyDecoder decoder([](Stream, std::string_view) { return true; });
  auto r = decoder.Feed("hello world, this is a TTY stream\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == core::ErrorCode::kInternal);
  CHECK_THAT(r.error().message(), Catch::Contains("TTY"));
}

TEST_CASE("the consumer can stop the decoder", "[docker][stdcopy]") {
  int calls = 0;
  StdcopyDecoder decoder([&](Stream, std::string_view) { return ++calls < 2; });
  auto r = decoder.Feed(Frame(Stream::kStdout, "a") + Frame(Stream::kStdout, "b") +
                        Frame(Stream::kStdout, "c"));
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(calls == 2);
}

TEST_CASE("over-long lines are cut at the limit", "[docker][stdcopy]") {
  Lines lines;
  LineAssembler assembler(
      [&](Stream s, std::string_view line) {
        lines.emplace_back(s, std::string(line));
        return true;
      },
      4);
  assembler.Feed(Stream::kStdout, "abcdefghij\nxy");
  assembler.Flush();
  CHECK(lines == Lines{{Stream::kStdout, "abcd"},
                       {Stream::kStdout, "efgh"},
                       {Stream::kStdout, "ij"},
                       {Stream::kStdout, "xy"}});
}

}  // namespace
}  // namespace gantry::docker
