#include "support/engine.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>

#include "pool/replica_files.h"

namespace gantry::testing {
namespace {

std::atomic<int> g_counter{0};

}  // namespace

TestEngine::TestEngine() {
  auto client = docker::CurlDockerClient::Connect();
  if (!client)
    FAIL(
        "the Docker engine does not answer (run scripts/docker-up): " << client.error().ToString());
  client_ = std::move(*client);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  value_ = "t" + std::to_string(getpid()) + "-" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count() %
                          100000000) +
           "-" + std::to_string(g_counter++);
  selector_ = std::string(kTestLabel) + "=" + value_;
}

TestEngine::~TestEngine() {
  RemoveAll();
}

std::string TestEngine::Name(const std::string& prefix) const {
  return "gantry-test-" + prefix + "-" + value_;
}

int TestEngine::RemoveAll() {
  int removed = 0;
  if (auto containers = client_->ListContainers({selector_}, /*all=*/true)) {
    for (const auto& c : *containers) {
      if (client_->RemoveContainer(c.id, {.force = true, .volumes = true}).ok()) ++removed;
    }
  }
  if (auto images = client_->ListImages({selector_})) {
    for (const auto& i : *images) {
      if (client_->RemoveImage(i.id, /*force=*/true).ok()) ++removed;
    }
  }
  // After the containers: a network is removable only once nothing is attached.
  if (auto networks = client_->ListNetworks({selector_})) {
    for (const auto& n : *networks) {
      if (client_->RemoveNetwork(n.id).ok()) ++removed;
    }
  }
  return removed;
}

void UnmountAllBelow(const std::string& dir) {
  pool::UnmountAllBelow(dir);
}

}  // namespace gantry::testing
