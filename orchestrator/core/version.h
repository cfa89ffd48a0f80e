#pragma once

#include <string_view>

namespace gantry::core {

// The version of this build of Gantry, from the top-level CMake project().
inline constexpr std::string_view kVersion = GANTRY_VERSION;

}  // namespace gantry::core
