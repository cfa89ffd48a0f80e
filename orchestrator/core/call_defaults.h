#pragma once

#include <chrono>
#include <cstdint>

namespace gantry::core {

// Defaults of one call that more than one module states (the spec, the pool, the gateway),
// here once so that they agree.

// How long a function may take to answer one call.
inline constexpr std::chrono::milliseconds kDefaultCallTimeout{30'000};
// The largest request body a call may carry (the gateway's limit and the shim's).
inline constexpr std::uint64_t kDefaultMaxBodyBytes = 64ull << 20;

}  // namespace gantry::core
