// gantry_test_sweep: run by CTest after every integration test (a cleanup fixture). Removes
// every container and image that carries the gantry.test label, and fails when it found
// any: a test that leaves objects behind has a cleanup bug, even if it passed.
#include <cstdio>

#include "docker/curl_docker_client.h"

int main() {
  auto client = gantry::docker::CurlDockerClient::Connect();
  if (!client) {
    std::fprintf(stderr, "gantry_test_sweep: %s\n", client.error().ToString().c_str());
    return 1;
  }
  auto& docker = **client;
  int left = 0;
  if (auto containers = docker.ListContainers({"gantry.test"}, /*all=*/true)) {
    for (const auto& c : *containers) {
      std::fprintf(stderr, "gantry_test_sweep: removing container %s (%s, gantry.test=%s)\n",
                   c.name.c_str(), c.id.substr(0, 12).c_str(),
                   c.labels.count("gantry.test") ? c.labels.at("gantry.test").c_str() : "");
      (void)docker.RemoveContainer(c.id, {.force = true, .volumes = true});
      ++left;
    }
  }
  if (auto images = docker.ListImages({"gantry.test"})) {
    for (const auto& i : *images) {
      std::fprintf(stderr, "gantry_test_sweep: removing image %s %s\n", i.id.substr(0, 19).c_str(),
                   i.repo_tags.empty() ? "" : i.repo_tags[0].c_str());
      (void)docker.RemoveImage(i.id, /*force=*/true);
      ++left;
    }
  }
  if (auto networks = docker.ListNetworks({"gantry.test"})) {
    for (const auto& n : *networks) {
      std::fprintf(stderr, "gantry_test_sweep: removing network %s (%s)\n", n.name.c_str(),
                   n.id.substr(0, 12).c_str());
      (void)docker.RemoveNetwork(n.id);
      ++left;
    }
  }
  if (left > 0) {
    std::fprintf(stderr,
                 "gantry_test_sweep: tests left %d object(s) with the gantry.test label behind\n",
                 left);
    return 1;
  }
  std::printf("gantry_test_sweep: nothing left behind\n");
  return 0;
}
