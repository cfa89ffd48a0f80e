#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gantry::spec {

// Each check returns nullopt when `text` is acceptable, or a short reason otherwise
// ("must be at most 63 characters", ...), for a message like `metadata.name: "Echo" is not
// a valid name: <reason>`.

// An RFC 1123 label (Kubernetes "DNS-1123 label"): 1-63 characters of a-z, 0-9 and '-',
// starting and ending with a letter or digit. Used for function, secret and namespace names.
std::optional<std::string> CheckDns1123Label(std::string_view text);

// A process environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most 256 characters.
std::optional<std::string> CheckEnvName(std::string_view text);

// A label key: an optional DNS-subdomain prefix and '/', then 1-63 characters of
// [A-Za-z0-9._-] starting and ending with an alphanumeric.
std::optional<std::string> CheckLabelKey(std::string_view text);

// A label value: empty, or 1-63 characters of [A-Za-z0-9._-] starting and ending with an
// alphanumeric.
std::optional<std::string> CheckLabelValue(std::string_view text);

// A Docker image reference: [host[:port]/]path[:tag][@sha256:hex], lower-case path.
std::optional<std::string> CheckImageReference(std::string_view text);

// An IANA time zone name as written in a trigger: "UTC", or Area/Location parts
// ("Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1") of [A-Za-z0-9_+-],
// each starting with a letter, at most 64 characters. Whether the zone exists is checked
// against the machine's zone database where the schedule runs, not here.
std::optional<std::string> CheckTimezoneName(std::string_view text);

// An HTTP header name (RFC 9110 token): 1-256 of the token characters.
std::optional<std::string> CheckHeaderName(std::string_view text);

}  // namespace gantry::spec
