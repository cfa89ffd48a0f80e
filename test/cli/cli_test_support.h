#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli/command_context.h"
#include "core/clock.h"
#include "http/http.h"

namespace gantry::cli::testing {

// Plays gantryd for the verbs: records every request and answers it from `handler`
// (default: 200 "{}"). No sockets.
class FakeGantryd {
 public:
  std::vector<http::Request> requests;
  std::function<http::Response(const http::Request&)> handler;

  http::Sender sender();
  // Streams: records the request, answers from `handler`, and hands a 2xx body to the
  // receiver in pieces of `chunk_bytes` (so lines arrive split), stopping when it says so.
  std::size_t chunk_bytes = 7;
  std::size_t chunks_delivered = 0;
  // The path and query of request `i` (its URL without the fake server's origin).
  std::string Target(std::size_t i) const;
  // The value of header `name` ("Name: value") in request `i`, or "" when it has none.
  std::string Header(std::size_t i, const std::string& name) const;
};

// A directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/relative (directories made) and returns its path.
  std::string Write(const std::string& relative, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

struct CliRun {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs `gantry ARGS...` as main() does (usage errors exit 2) against `fake`, with
// --server http://gantryd.test unless args give one, an environment of `env` only, no
// default token file, and time from `clock` (sleeps advance it).
CliRun RunGantry(FakeGantryd& fake, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 core::ManualClock* clock = nullptr,
                 std::chrono::system_clock::time_point wall = {});

inline constexpr const char* kServer = "http://gantryd.test";

}  // namespace gantry::cli::testing
