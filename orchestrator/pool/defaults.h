#pragma once

// The pool's defaults, stated once: Deployment and PoolOptions (pool.h) take their member
// initialisers from here, and the implementation uses the same names where it needs a
// default (a Lease without a replica reports kDefaultCallTimeout).

#include <chrono>
#include <cstdint>

#include "core/call_defaults.h"

namespace gantry::pool {

// Deployment
using core::kDefaultMemoryBytes;
inline constexpr std::int64_t kDefaultNanoCpus = 500'000'000;
inline constexpr std::int64_t kDefaultPidsLimit = 256;
inline constexpr int kDefaultConcurrency = 1;  // slots per replica
inline constexpr int kDefaultMinReplicas = 0;
inline constexpr int kDefaultMaxReplicas = 10;
using core::kDefaultCallTimeout;
using core::kDefaultIdleTimeout;
using core::kDefaultMaxBodyBytes;
inline constexpr int kDefaultMaxQueue = 100;
inline constexpr std::chrono::milliseconds kDefaultQueueTimeout{30'000};

// PoolOptions
inline constexpr std::chrono::milliseconds kDefaultReadyTimeout{30'000};
inline constexpr std::chrono::milliseconds kDefaultControlInterval{1'000};
inline constexpr int kDefaultWorkers = 4;
inline constexpr int kDefaultStopTimeoutSeconds = 2;
inline constexpr int kDefaultSecretsUid = 65534;
inline constexpr std::int64_t kDefaultSocketDirBytes = std::int64_t{64} << 10;
inline constexpr const char* kDefaultLogMaxSize = "10m";
inline constexpr int kDefaultLogMaxFiles = 3;
inline constexpr const char* kDefaultRunDir = "/var/lib/gantry/run";

}  // namespace gantry::pool
