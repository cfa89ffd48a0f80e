#include "spec/sha256.h"

#include <catch2/catch.hpp>
#include <string>

namespace gantry::spec {
namespace {

// Test vectors from FIPS 180-4's examples and NIST's SHA-256 test suite.
TEST_CASE("SHA-256 matches the standard's test vectors", "[spec][sha256]") {
  struct Case {
    std::string input;
    std::string digest;
  };
  const Case cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1'000'000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const Case& c : cases) {
    INFO(c.input.size());
    CHECK(Sha256::HexDigest(c.input) == c.digest);
  }
}

TEST_CASE("SHA-256 gives the same digest however the input is split", "[spec][sha256]") {
  std::string input;
  for (int i = 0; i < 300; ++i) input += static_cast<char>(i * 7);
  std::string whole = Sha256::HexDigest(input);
  for (std::size_t split : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 128u, 299u}) {
    Sha256 h;
    h.Update(std::string_view(input).substr(0, split));
    h.Update(std::string_view(input).substr(split));
    CHECK(Sha256::ToHex(h.Finish()) == whole);
  }
}

}  // namespace
}  // namespace gantry::spec
