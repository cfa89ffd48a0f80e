#include "core/base64.h"

#include <catch2/catch.hpp>
#include <string>

namespace gantry::core {
namespace {

TEST_CASE("base64: RFC 4648's test vectors, both ways", "[core][base64]") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    INFO(plain);
    CHECK(Base64Encode(plain) == coded);
    CHECK(Base64Decode(coded) == std::optional<std::string>(plain));
  }
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  CHECK(Base64Decode(Base64Encode(bytes)) == bytes);
  CHECK(Base64Decode("YWRtaW46c2VjcmV0") == std::optional<std::string>("admin:secret"));
}

TEST_CASE("base64: anything not canonical padded base64 is refused", "[core][base64]") {
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "=Zg=", "Zg==Zg==", "Zm9v YmFy", "Zm9v\n",
                          "Zh==", "Zm9=", "Zm-v", "Zm_v"}) {
    INFO(bad);
    CHECK_FALSE(Base64Decode(bad).has_value());
  }
}

}  // namespace
}  // namespace gantry::core
