#include "core/call_id.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace gantry::core {

std::string NewCallId() {
  // One generator per thread: random_generator is not thread-safe, and seeding one per
  // call would read the system's entropy every time.
  thread_local boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

bool ValidCallId(std::string_view id) {
  if (id.empty() || id.size() > kMaxCallIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace gantry::core
