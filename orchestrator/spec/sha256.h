#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::spec {

// SHA-256 (FIPS 180-4), written from the standard's description. Feed bytes with Update()
// any number of times, then Finish() once. Not thread-safe; cheap to create.
class Sha256 {
 public:
  Sha256();

  void Update(std::string_view bytes);
  // Returns the 32-byte digest. The object must not be used afterwards.
  std::array<std::uint8_t, 32> Finish();

  // Lower-case hex digest of `bytes`.
  static std::string HexDigest(std::string_view bytes);
  static std::string ToHex(const std::array<std::uint8_t, 32>& digest);

 private:
  void ProcessBlock(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffer_size_ = 0;
  std::uint64_t total_bytes_ = 0;
};

}  // namespace gantry::spec
