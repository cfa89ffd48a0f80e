#include "core/call_id.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace gantry::core {
namespace {

// Random bytes from the kernel's CSPRNG, fetched a page at a time: one getrandom(2) per
// ~400 ids instead of one per id. One per thread, so no lock.
class RandomBytes {
 public:
  void Fill(unsigned char* out, std::size_t n) {
    if (used_ + n > buffer_.size()) Refill();
    std::memcpy(out, buffer_.data() + used_, n);
    used_ += n;
  }

 private:
  void Refill() {
    std::size_t got = 0;
    while (got < buffer_.size()) {
      ssize_t r = ::getrandom(buffer_.data() + got, buffer_.size() - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw std::runtime_error("getrandom failed");
      got += static_cast<std::size_t>(r);
    }
    used_ = 0;
  }

  std::array<unsigned char, 4096> buffer_{};
  std::size_t used_ = sizeof buffer_;  // empty: the first Fill refills
};

}  // namespace

std::string NewCallId() {
  // UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version, 74 random bits. Ids made
  // close in time sort close together, so the records' primary-key index grows at its end
  // instead of touching a random page per call (with v4 ids that write amplification was
  // most of the records' cost).
  thread_local RandomBytes random;
  std::array<unsigned char, 16> b{};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (std::size_t i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  random.Fill(b.data() + 6, 10);
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[b[i] >> 4];
    id += kHex[b[i] & 0x0f];
  }
  return id;
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
