#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gantry::bench {

// Where the load goes: a unix socket path, or a TCP IPv4/IPv6 address and port.
struct LoadTarget {
  std::string unix_path;  // used when not empty
  std::string host = "127.0.0.1";
  unsigned short port = 0;
};

struct LoadOptions {
  int concurrency = 1;      // connections, each with one request in flight (kept alive)
  int64_t requests = 1000;  // stop after this many ...
  std::chrono::milliseconds max_time{10000};  // ... or after this long, whichever first
  std::string method = "POST";
  std::string target = "/";
  std::string body = "hello";
};

struct LoadResult {
  int64_t ok = 0;      // 2xx answers
  int64_t failed = 0;  // other statuses and connection errors
  double seconds = 0;
  double rps = 0;  // ok / seconds
  double p50_ms = 0;
  double p99_ms = 0;
  std::string first_error;
};

// Sends requests over `concurrency` kept-alive HTTP/1.1 connections (Boost.Beast, one
// thread) until `requests` are answered or `max_time` passes, and measures each request's
// latency. Not thread-safe; blocks the caller.
LoadResult RunLoad(const LoadTarget& target, const LoadOptions& options);

// "rps=... p50_ms=... p99_ms=... ok=... failed=..." and back.
std::string FormatResult(const LoadResult& result);
bool ParseResult(const std::string& line, LoadResult& result);

}  // namespace gantry::bench
