#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gantry::core {

// Standard base64 (RFC 4648 §4: "+/" and "=" padding), as JSON APIs and HTTP Basic auth use.
std::string Base64Encode(std::string_view bytes);
// The bytes, or nullopt for anything that is not canonical padded base64 (a wrong length,
// a character outside the alphabet, padding anywhere but at the end, non-zero pad bits).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace gantry::core
