// ReplicaLifecycle's start through a stem cell: StartTask's first try (replica_lifecycle.h).

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "pool/replica_files.h"
#include "pool/replica_lifecycle.h"
#include "pool/stem_specialize.h"

namespace gantry::pool {
namespace {

using LogLevel = core::LogLevel;

// The shim's {"error": "..."}, or the body itself when it is not that.
std::string AnswerError(const SpecializeAnswer& answer) {
  auto j = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return answer.body.substr(0, 200);
}

}  // namespace

bool ReplicaLifecycle::StartFromStemCell(const std::shared_ptr<FunctionReplicas>& fn,
                                         const std::shared_ptr<Replica>& replica,
                                         const Deployment& d) {
  std::optional<StemCell> cell = stem_cells_->Take(d.stem->runtime);
  if (!cell) return false;
  const ReplicaPaths own_paths = replica->paths;
  // Before /_/specialize is sent nothing of the function ran in the cell: give it up and
  // start a container as if there had been no cell.
  auto fall_back = [&](const std::string& why) {
    core::Log(LogLevel::kWarn, "pool: {} stem cell {} not used: {}", fn->key, cell->key, why);
    {
      std::lock_guard<std::mutex> secrets_lock(secrets_mu_);
      std::lock_guard<std::mutex> lock(fn->mu);
      replica->paths = own_paths;
    }
    stem_cells_->Discard(*cell);
    return false;
  };
  if (auto s = CopyPackageIntoCell(d.stem->package_dir, cell->paths); !s) {
    return fall_back(s.error().message());
  }
  std::optional<core::Error> secrets_error;
  {
    std::lock_guard<std::mutex> secrets_lock(secrets_mu_);
    // The values as they are now (UpdateSecret may have changed one since `d` was copied);
    // from the paths' switch on, UpdateSecret writes into the cell's directory.
    std::map<std::string, std::string> secrets;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      secrets = fn->CurrentSecretsLocked(d.secrets);
      replica->paths = cell->paths;
    }
    for (const auto& [name, value] : secrets) {
      if (auto s = ReplaceSecretFile(cell->paths, name, value, options_.secrets_uid); !s) {
        secrets_error = s.error();
        break;
      }
    }
  }
  if (secrets_error) return fall_back(secrets_error->message());
  if (docker::ContainerResources limits = LimitsToUpdate(d, *cell);
      limits.memory_bytes > 0 || limits.nano_cpus > 0 || limits.pids_limit > 0) {
    if (auto s = docker_.UpdateContainer(cell->id, limits); !s) {
      return fall_back(s.error().ToString());
    }
  }
  SpecializeAnswer answer =
      specializer_.Specialize(cell->endpoint, SpecializeBody(d), options_.ready_timeout);
  // 200: it is the function's now. 502 (the handler did not load) and 504 (not within the
  // ready timeout): what a new container would have done too: a failed start. Anything
  // else (no answer, a cell that was not a stem any more): not its fault, a normal start.
  bool ready = answer.status == 200;
  if (!ready && answer.status != 502 && answer.status != 504) {
    return fall_back(answer.status == 0 ? fmt::format("no answer to POST /_/specialize{}",
                                                      answer.sent ? "" : " (not sent)")
                                        : fmt::format("POST /_/specialize answered {}: {}",
                                                      answer.status, AnswerError(answer)));
  }
  {
    PoolEvent started;
    {
      std::lock_guard<std::mutex> lock(fn->mu);
      replica->id = cell->id;
      replica->endpoint = cell->endpoint;
      replica->from_stem_cell = true;
      replica->container_started = true;
      Register(cell->id, fn, replica);
      started = EventLocked(*fn, replica.get(), PoolEvent::Kind::kReplicaStarting);
    }
    Emit(started);
  }
  if (!ready) {
    EndStart(fn, replica,
             core::Error::Internal(fmt::format("stem cell {}: specialise answered {}: {}",
                                               cell->key, answer.status, AnswerError(answer))));
    return true;
  }
  // Only now: a restarted gantryd adopts the cell as this function's replica by it.
  if (auto s = WriteStemOwner(
          cell->paths,
          {.namespace_name = d.namespace_name, .name = d.name, .generation = d.generation});
      !s) {
    core::Log(LogLevel::kWarn, "pool: {} stem cell {}: {} (a restart removes it)", fn->key,
              cell->key, s.error().message());
  }
  core::Log(LogLevel::kInfo, "pool: {} replica {} from stem cell {} ({})", fn->key, replica->key,
            cell->key, cell->id);
  EndStart(fn, replica, std::nullopt);
  return true;
}

}  // namespace gantry::pool
