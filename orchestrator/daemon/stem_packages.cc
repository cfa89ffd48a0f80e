#include "daemon/stem_packages.h"

#include "builder/package_export.h"
#include "core/log.h"

namespace gantry::daemon {

void StemPackages::Attach(pool::Deployment& d, const nlohmann::json& canonical) {
  d.stem.reset();
  if (!canonical.is_object() || !canonical.contains("spec") || !canonical["spec"].is_object()) {
    return;
  }
  const nlohmann::json& spec = canonical["spec"];
  std::string runtime = spec.is_object() && spec.contains("runtime") && spec["runtime"].is_string()
                            ? spec["runtime"].get<std::string>()
                            : std::string();
  if (runtime != "python3" && runtime != "node" && runtime != "exec") return;
  if (d.network != pool::NetworkAccess::kDefault || d.http_port != 0) return;
  pool::StemSpec stem;
  stem.runtime = runtime;
  if (runtime == "exec") {
    if (!spec.contains("command") || !spec["command"].is_array()) return;
    for (const auto& part : spec["command"]) {
      if (!part.is_string()) return;
      stem.command.push_back(part.get<std::string>());
    }
    if (stem.command.empty()) return;
  }
  auto image = docker_.InspectImage(d.image);
  if (!image) {
    core::Log(core::LogLevel::kWarn, "stem cells: {}/{}: {}", d.namespace_name, d.name,
              image.error().ToString());
    return;
  }
  // Keyed by the image's content: functions sharing an image share the package.
  std::string id = image->id;
  if (id.starts_with("sha256:")) id = id.substr(7);
  auto dir = builder::ExportPackage(docker_, d.image, packages_dir_ + "/" + id, labels_);
  if (!dir) {
    core::Log(core::LogLevel::kWarn, "stem cells: {}/{}: {}", d.namespace_name, d.name,
              dir.error().ToString());
    return;
  }
  stem.package_dir = *dir;
  d.stem = std::move(stem);
}

}  // namespace gantry::daemon
