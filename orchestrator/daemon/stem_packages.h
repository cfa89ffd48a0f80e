#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "docker/docker_client.h"
#include "pool/pool.h"

namespace gantry::daemon {

// Decides which deployments stem cells may serve and keeps their packages on the host:
// a python3, node or exec template function on the default network (the cells' network)
// gets Deployment::stem once its image's package is exported (builder::ExportPackage)
// into <packages_dir>/<image id>. Derived, never stored: the deployment codec leaves
// `stem` out and the controller asks again at start. Thread-safe (exports of one image at
// once end with the same directory).
class StemPackages {
 public:
  // `labels`: what the export's short-lived container carries (the instance's identity).
  StemPackages(docker::DockerClient& docker, std::string packages_dir, docker::Labels labels)
      : docker_(docker), packages_dir_(std::move(packages_dir)), labels_(std::move(labels)) {}

  // Sets d.stem when a stem cell can serve `d`, whose canonical spec is `canonical`
  // (spec::ToCanonicalJson: spec.runtime, spec.command), exporting the package when it is not
  // there yet (blocks for the export: a created container and two tar streams). Leaves
  // it unset otherwise; a failed export is logged (the function runs without cells).
  // After exporting a new package: the packages of images no longer on the engine are
  // removed (cells that use one keep their hard links).
  void Attach(pool::Deployment& d, const nlohmann::json& canonical);
  // Removes the packages whose image is gone from the engine. Returns how many.
  int Prune();

 private:
  docker::DockerClient& docker_;
  const std::string packages_dir_;
  const docker::Labels labels_;
};

}  // namespace gantry::daemon
