#include "core/time_format.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>

namespace gantry::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

// 2026-01-02T15:04:05Z
const system_clock::time_point kStamp{seconds(1'767'366'245)};

TEST_CASE("UTC times are ISO-8601, in UTC whatever the local time zone", "[core]") {
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  CHECK(FormatUtc(kStamp) == "2026-01-02T15:04:05Z");
  CHECK(FormatUtc(kStamp + milliseconds(999)) == "2026-01-02T15:04:05Z");  // dropped, not rounded
  CHECK(FormatUtcMillis(kStamp + milliseconds(7)) == "2026-01-02T15:04:05.007Z");
  CHECK(FormatUtcMillis(kStamp) == "2026-01-02T15:04:05.000Z");
  CHECK(FormatUtc(system_clock::time_point()) == "1970-01-01T00:00:00Z");
  ::unsetenv("TZ");
  ::tzset();
}

TEST_CASE("RFC 3339 times are read as UTC, anything else is kInvalidArgument", "[core]") {
  for (const char* text :
       {"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.5Z", "2026-01-02T15:04:05"}) {
    INFO(text);
    auto t = ParseUtc(text);
    REQUIRE(t.ok());
    CHECK(*t == kStamp);
  }
  for (const char* text : {"", "yesterday", "2026-01-02", "15:04:05"}) {
    INFO(text);
    auto t = ParseUtc(text);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(t.error().message(), Catch::Contains("RFC 3339"));
  }
}

}  // namespace
}  // namespace gantry::core
