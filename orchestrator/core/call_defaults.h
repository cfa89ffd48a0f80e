#pragma once

#include <chrono>
#include <cstdint>

namespace gantry::core {

// Defaults of a function and of one call that more than one module needs (the spec, the
// pool, the gateway), stated here once so that they agree.

// A replica's memory limit (the manifest's `limits.memory`: 128Mi).
inline constexpr std::int64_t kDefaultMemoryBytes = std::int64_t{128} << 20;
// With scale.min 0, a replica is kept this long after the last call.
inline constexpr std::chrono::milliseconds kDefaultIdleTimeout{300'000};
// How long a function may take to answer one call.
inline constexpr std::chrono::milliseconds kDefaultCallTimeout{30'000};
// The largest request body a call may carry (the gateway's limit and the shim's).
inline constexpr std::uint64_t kDefaultMaxBodyBytes = 64ull << 20;

}  // namespace gantry::core
