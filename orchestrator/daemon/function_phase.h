#pragma once

// A function's status in user terms, as `gantry get` shows it: derived, never stored.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pool/pool.h"

namespace gantry::daemon {

enum class Phase { kBuilding, kBuildFailed, kReady, kScaledToZero, kDegraded, kCrashLoop };

// "Building", "BuildFailed", "Ready", "ScaledToZero", "Degraded", "CrashLoop".
std::string_view PhaseName(Phase phase);

struct PhaseInput {
  std::string stored_status;  // the store's: "building", "failed", "ready", ...
  std::string stored_error;   // the store's last error (what failed the last apply)
  const pool::FunctionStatus* live = nullptr;  // null: the pool does not run it
  int min_replicas = 0;                        // scale.min
  std::chrono::system_clock::time_point now;
};

struct FunctionPhase {
  Phase phase = Phase::kReady;
  std::string reason;  // in user terms; empty when there is nothing to say
  std::optional<std::chrono::system_clock::time_point> next_retry;  // CrashLoop: next start
};

// A replica that died after it was ready this recently makes a fully ready function
// Degraded (it was just replaced).
inline constexpr std::chrono::seconds kRecentDeath{60};

// The rules, first match wins (ready/starting/failures are the pool's counts):
//  1. Building: the store says an apply is building ("building").
//  2. BuildFailed: the last apply failed ("failed") and nothing runs (no replica ready or
//     starting, and no replica failure in the pool to tell instead); reason: the error.
//  3. CrashLoop: replicas die before they get ready: >= 2 in a row, or 1 and the start
//     back-off still runs; reason: the last failure, next_retry: when the back-off ends
//     (when it is still ahead).
//  4. Degraded: the last apply failed but something still serves (reason: the error).
//  5. Ready: ready >= max(scale.min, 1) (so with scale.min 0, one ready replica is
//     Ready), unless a replica died after it was ready within kRecentDeath: Degraded,
//     reason "replica died <reason>".
//  6. ScaledToZero: scale.min 0 and nothing ready (reason "starting a replica" while one
//     starts, else empty).
//  7. Degraded: fewer ready than scale.min; reason "<ready> of <min> replicas ready" and
//     the last failure when there is one.
// A function the pool does not run (null live) counts as no replica at all.
FunctionPhase DerivePhase(const PhaseInput& in);

}  // namespace gantry::daemon
