#pragma once

#include <string_view>

namespace gantry::core {

// The version of this build of Gantry, from the top-level CMake project().
inline constexpr std::string_view kVersion = GANTRY_VERSION;

// The compiler that built it, e.g. "gcc 12.2.0" or "clang 14.0.6".
#if defined(__clang__)
inline constexpr std::string_view kCompiler = "clang " __clang_version__;
#else
inline constexpr std::string_view kCompiler = "gcc " __VERSION__;
#endif

// The git commit it was built from (12 hex digits, "-dirty" when the tree had changes),
// baked in at build time (core/revision.cmake); "unknown" outside a git checkout, or the
// GANTRY_REVISION environment variable of the build when that is set.
std::string_view Revision();

}  // namespace gantry::core
