#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace gantry::spec {

// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface. Feed bytes with Update() any number
// of times, then Finish() once. Move-only; not thread-safe; cheap to create. Throws
// std::runtime_error only when OpenSSL itself fails (out of memory, no SHA-256 provider).
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
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

}  // namespace gantry::spec
