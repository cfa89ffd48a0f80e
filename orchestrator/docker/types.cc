#include "docker/types.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace gantry::docker {

BodyReader ReadFromString(std::string_view bytes) {
  auto offset = std::make_shared<std::size_t>(0);
  return [bytes, offset](char* buffer, std::size_t capacity) -> std::ptrdiff_t {
    std::size_t n = std::min(capacity, bytes.size() - *offset);
    std::memcpy(buffer, bytes.data() + *offset, n);
    *offset += n;
    return static_cast<std::ptrdiff_t>(n);
  };
}

}  // namespace gantry::docker
