#pragma once

#include <string>

#include "core/result.h"

namespace gantry::daemon {

// Returns the management API token stored at `path`, creating it (32 random bytes, hex,
// file mode 0600, parent directory made if needed) on first start. kUnavailable when the
// file can't be read or written.
core::Result<std::string> LoadOrCreateToken(const std::string& path);

}  // namespace gantry::daemon
