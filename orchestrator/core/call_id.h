#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gantry::core {

// The id of one call (sync or async): a UUID in its 36-character form, lowercase and
// hyphenated ("019ad8a3-5c2e-7d41-9f3a-0016d3cca427"), as OpenFaaS sends one. Version 7:
// the creation time in milliseconds, then 74 bits from the kernel's CSPRNG, so ids sort by
// time (cheap to index) and can't be guessed. Thread-safe.
std::string NewCallId();

// A caller may name its call (X-Call-Id) when the id is stored: it becomes a primary key, a
// log field and a header, so it must be short and plain.
inline constexpr std::size_t kMaxCallIdBytes = 64;
// True for 1 to kMaxCallIdBytes letters, digits, '-', '_' or '.' (every NewCallId() is).
bool ValidCallId(std::string_view id);

}  // namespace gantry::core
