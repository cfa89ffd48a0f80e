#include "daemon/stem_images.h"

#include <array>
#include <string_view>
#include <utility>

#include "core/log.h"

namespace gantry::daemon {

StemImages::StemImages(builder::Builder& builder, pool::Pool& pool, int count)
    : builder_(builder), pool_(pool), count_(count) {}

StemImages::~StemImages() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void StemImages::Start() {
  if (count_ <= 0 || thread_.joinable()) return;
  thread_ = std::jthread([this](const std::stop_token& stop) {
    const std::array<std::pair<spec::Runtime, std::string_view>, 3> runtimes = {{
        {spec::Runtime::kPython3, "python3"},
        {spec::Runtime::kNode, "node"},
        {spec::Runtime::kExec, "exec"},
    }};
    for (const auto& [runtime, name] : runtimes) {
      if (stop.stop_requested()) return;
      auto built = builder_.BuildStem(runtime);
      if (!built) {
        core::Log(core::LogLevel::kWarn, "stem cells: {} image: {}", name,
                  built.error().ToString());
        continue;
      }
      core::Log(core::LogLevel::kInfo, "stem cells: {} image {} ({})", name, built->ref,
                built->cached ? "existing" : "built");
      pool_.SetStemImage(std::string(name), built->ref, count_);
    }
  });
}

}  // namespace gantry::daemon
