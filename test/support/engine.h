#pragma once

#include <memory>
#include <string>

#include "docker/curl_docker_client.h"

namespace gantry::testing {

// The label every object a test creates on the real engine carries, so that it can be
// found and removed (by TestEngine, or by the gantry_test_sweep run after all tests).
inline constexpr const char* kTestLabel = "gantry.test";

// A connection to the real engine for one test, with a label value of its own. Every
// container and image carrying that label is removed when the TestEngine goes out of
// scope, whether the test passed or not. Fails the test (REQUIRE) when the engine does not
// answer. Not thread-safe itself; client() is.
class TestEngine {
 public:
  TestEngine();
  ~TestEngine();
  TestEngine(const TestEngine&) = delete;
  TestEngine& operator=(const TestEngine&) = delete;

  docker::DockerClient& client() { return *client_; }
  // "gantry.test=<unique value>": put it on everything the test creates.
  const std::string& selector() const { return selector_; }
  const std::string& value() const { return value_; }
  docker::Labels labels() const { return {{kTestLabel, value_}}; }
  // A unique name with this prefix, for containers and image tags.
  std::string Name(const std::string& prefix) const;

  // Removes every container, image and network carrying this test's label; returns how
  // many.
  int RemoveAll();

 private:
  std::unique_ptr<docker::CurlDockerClient> client_;
  std::string value_;
  std::string selector_;
};

// Lazily unmounts everything mounted at or below `dir` (gantryd's per-replica socket
// tmpfs under a test's state or run directory outlives a stopped gantryd), so the test can
// remove the tree. Needs root to do anything; never fails.
void UnmountAllBelow(const std::string& dir);

}  // namespace gantry::testing
