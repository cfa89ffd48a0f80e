#include "spec/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace gantry::spec {
namespace {

// EVP calls fail only when OpenSSL cannot allocate or its SHA-256 is unavailable: nothing a
// caller could handle, and no digest to return.
void Check(int rc, const char* call) {
  if (rc != 1) throw std::runtime_error(std::string("OpenSSL ") + call + " failed");
}

}  // namespace

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr) throw std::runtime_error("OpenSSL EVP_MD_CTX_new failed");
  Check(EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr), "EVP_DigestInit_ex");
}

void Sha256::Update(std::string_view bytes) {
  Check(EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()), "EVP_DigestUpdate");
}

std::array<std::uint8_t, 32> Sha256::Finish() {
  std::array<std::uint8_t, 32> digest{};
  Check(EVP_DigestFinal_ex(context_.get(), digest.data(), nullptr), "EVP_DigestFinal_ex");
  return digest;
}

std::string Sha256::ToHex(const std::array<std::uint8_t, 32>& digest) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (std::uint8_t byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

std::string Sha256::HexDigest(std::string_view bytes) {
  std::array<std::uint8_t, 32> digest{};
  Check(EVP_Digest(bytes.data(), bytes.size(), digest.data(), nullptr, EVP_sha256(), nullptr),
        "EVP_Digest");
  return ToHex(digest);
}

}  // namespace gantry::spec
