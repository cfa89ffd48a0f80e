#pragma once

#include <string>

#include "core/result.h"

namespace gantry::daemon {

// Returns this gantryd's instance id, stored at `path` (normally <state-dir>/instance-id),
// creating it on first start: 16 random hex digits (64 bits from /dev/urandom), file mode
// 0600. The id is what every object gantryd makes on the engine is labelled with
// (core::kInstanceLabel) and is part of its image names, so it must stay the same for the
// life of the state directory. Errors: kUnavailable when the file can't be read or
// written, kInternal when it exists but does not hold an id (never replaced silently: a
// new id would orphan every object the old one labelled).
core::Result<std::string> LoadOrCreateInstanceId(const std::string& path);

// True for what LoadOrCreateInstanceId creates or accepts: 8..32 lower-case hex digits.
bool IsInstanceId(const std::string& id);

}  // namespace gantry::daemon
