#include "daemon/stem_packages.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include "builder/package_export.h"
#include "core/log.h"

namespace gantry::daemon {

void StemPackages::Attach(pool::Deployment& d, const nlohmann::json& canonical) {
  d.stem.reset();
  if (!canonical.is_object() || !canonical.contains("spec") || !canonical["spec"].is_object()) {
    return;
  }
  const nlohmann::json& spec = canonical["spec"];
  std::string runtime = spec.contains("runtime") && spec["runtime"].is_string()
                            ? spec["runtime"].get<std::string>()
                            : std::string();
  if (runtime != "python3" && runtime != "node" && runtime != "exec") return;
  // Cells are created read-only, before anyone knows which function they will be.
  if (d.network != pool::NetworkAccess::kDefault || d.http_port != 0 || !d.read_only_root) return;
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
  const std::string target = packages_dir_ + "/" + id;
  std::error_code ec;
  const bool fresh = !std::filesystem::exists(target, ec);
  auto dir = builder::ExportPackage(docker_, d.image, target, labels_);
  if (!dir) {
    core::Log(core::LogLevel::kWarn, "stem cells: {}/{}: {}", d.namespace_name, d.name,
              dir.error().ToString());
    return;
  }
  stem.package_dir = *dir;
  d.stem = std::move(stem);
  if (fresh) Prune();
}

int StemPackages::Prune() {
  namespace fs = std::filesystem;
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(packages_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty()) continue;
    if (auto tmp = name.find(".tmp-"); tmp != std::string::npos) {
      // ExportPackage's "<id>.tmp-<pid>-<hex>": this process's is an export in progress;
      // another's was left by a crash.
      if (name.substr(tmp + 5).starts_with(std::to_string(::getpid()) + "-")) continue;
    } else {
      auto image = docker_.InspectImage("sha256:" + name);
      if (image || image.error().code() != core::ErrorCode::kNotFound) continue;
    }
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    if (!rm) ++removed;
  }
  if (removed > 0)
    core::Log(core::LogLevel::kInfo, "stem cells: removed {} stale packages", removed);
  return removed;
}

}  // namespace gantry::daemon
