#include "daemon/function_phase.h"

#include <fmt/format.h>

#include <algorithm>

namespace gantry::daemon {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kBuilding:
      return "Building";
    case Phase::kBuildFailed:
      return "BuildFailed";
    case Phase::kReady:
      return "Ready";
    case Phase::kScaledToZero:
      return "ScaledToZero";
    case Phase::kDegraded:
      return "Degraded";
    case Phase::kCrashLoop:
      return "CrashLoop";
  }
  return "Unknown";
}

FunctionPhase DerivePhase(const PhaseInput& in) {
  const pool::FunctionStatus none;
  const pool::FunctionStatus& live = in.live != nullptr ? *in.live : none;
  const std::string& failure = !live.last_failure.empty() ? live.last_failure : live.last_error;
  const bool runs = live.ready > 0 || live.starting > 0;

  if (in.stored_status == "building") return {.phase = Phase::kBuilding, .reason = "building"};
  if (in.stored_status == "failed" && !runs && live.failures_in_a_row == 0) {
    return {.phase = Phase::kBuildFailed, .reason = in.stored_error};
  }
  const bool backoff = live.next_retry > in.now;
  if (live.failures_in_a_row >= 2 || (live.failures_in_a_row >= 1 && backoff)) {
    FunctionPhase out{.phase = Phase::kCrashLoop, .reason = failure};
    if (backoff) out.next_retry = live.next_retry;
    return out;
  }
  if (in.stored_status == "failed") return {.phase = Phase::kDegraded, .reason = in.stored_error};
  if (live.ready >= std::max(in.min_replicas, 1)) {
    bool recent_death = !live.last_failure_before_ready && !live.last_failure.empty() &&
                        live.last_failure_time + kRecentDeath > in.now;
    if (recent_death) {
      return {.phase = Phase::kDegraded, .reason = "replica died: " + live.last_failure};
    }
    return {.phase = Phase::kReady};
  }
  if (in.min_replicas == 0) {
    return {.phase = Phase::kScaledToZero, .reason = live.starting > 0 ? "starting a replica" : ""};
  }
  std::string reason = fmt::format("{} of {} replicas ready", live.ready, in.min_replicas);
  if (!failure.empty()) reason += ": " + failure;
  return {.phase = Phase::kDegraded, .reason = reason};
}

}  // namespace gantry::daemon
