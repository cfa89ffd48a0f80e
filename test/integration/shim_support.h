#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/engine.h"
#include "support/tar.h"

namespace gantry::testing {

// What the shim answered, or why there was no answer (error set, status 0).
struct ShimReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
};

// One HTTP/1.1 request over a unix socket on a fresh connection, bounded by `timeout`
// (Boost.Beast; the test never waits longer, so a hung socket fails the test).
ShimReply CallUnix(const std::string& socket_path, const std::string& method,
                   const std::string& target, const std::string& body = "",
                   const std::vector<std::pair<std::string, std::string>>& headers = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The stripped static shim and the runtime bootstraps, as built/checked in.
std::string ShimBinary();
std::string BootstrapFile(const std::string& relative);  // "python3/bootstrap.py"

// A function container the way Gantry runs them: an image built FROM a local base image
// with gantry-shim as its entrypoint and `files` under /fn (the working directory), run as
// nobody with a read-only root, no capabilities, no network but loopback, and the shim's
// unix socket in a host directory bind-mounted at /run/gantry. Image and container carry
// the TestEngine's label; the TestEngine removes them, this removes the host directory.
// Not thread-safe itself, but Call may be used from several threads at once.
class ShimContainer {
 public:
  ShimContainer(TestEngine& engine, const std::string& base, std::vector<TarEntry> files,
                std::vector<std::string> env);
  ~ShimContainer();
  ShimContainer(const ShimContainer&) = delete;
  ShimContainer& operator=(const ShimContainer&) = delete;

  const std::string& id() const { return id_; }
  // The host directory mounted at /run/gantry, and the shim's socket in it.
  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/shim.sock"; }

  // Polls /_/ready until it answers 200; false if it doesn't within `limit`.
  bool WaitReady(std::chrono::milliseconds limit = std::chrono::seconds(30));
  ShimReply Call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::vector<std::pair<std::string, std::string>>& headers = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    return CallUnix(socket_path(), method, target, body, headers, timeout);
  }
  // The container's output so far (the shim writes everything to stderr).
  std::string Logs();
  // The output once it contains `needle` (a call's log lines are forwarded after its answer
  // may already be out), or as it is after `limit`.
  std::string LogsOnce(const std::string& needle,
                       std::chrono::milliseconds limit = std::chrono::seconds(10));

 private:
  TestEngine& engine_;
  std::string dir_;
  std::string id_;
};

}  // namespace gantry::testing
