#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gantry::core {

// The id of one call (sync or async): a random UUID (version 4) in its 36-character form,
// lowercase and hyphenated ("1b4e28ba-2fa1-41d2-883f-0016d3cca427"), as OpenFaaS sends it.
// Thread-safe.
std::string NewCallId();

// A caller may name its call (X-Call-Id) when the id is stored: it becomes a primary key, a
// log field and a header, so it must be short and plain.
inline constexpr std::size_t kMaxCallIdBytes = 64;
// True for 1 to kMaxCallIdBytes letters, digits, '-', '_' or '.' (every NewCallId() is).
bool ValidCallId(std::string_view id);

}  // namespace gantry::core
