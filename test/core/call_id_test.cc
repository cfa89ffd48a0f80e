#include "core/call_id.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace gantry::core {
namespace {

TEST_CASE("call ids are UUIDs: 36 lowercase hex digits and hyphens, version 7", "[core][call_id]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewCallId();
    INFO(id);
    REQUIRE(id.size() == 36);
    for (std::size_t p : {8u, 13u, 18u, 23u}) CHECK(id[p] == '-');
    CHECK(id.find_first_not_of("0123456789abcdef-") == std::string::npos);
    CHECK(id[14] == '7');                                          // version
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant
    CHECK(ValidCallId(id));
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("call ids begin with their time in milliseconds, so they sort by time",
          "[core][call_id]") {
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const long long before = now_ms();
  std::string id = NewCallId();
  const long long after = now_ms();
  const long long stamped = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  INFO(id);
  CHECK(stamped >= before);
  CHECK(stamped <= after);
  std::string earlier = NewCallId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(NewCallId() > earlier);
  // The 74 random bits differ between ids of the same millisecond.
  CHECK(NewCallId().substr(14) != NewCallId().substr(14));
}

TEST_CASE("caller-given call ids are short and plain", "[core][call_id]") {
  CHECK(ValidCallId("job-1.a_B"));
  CHECK(ValidCallId(std::string(kMaxCallIdBytes, 'a')));
  CHECK_FALSE(ValidCallId(std::string(kMaxCallIdBytes + 1, 'a')));
  CHECK_FALSE(ValidCallId(""));
  CHECK_FALSE(ValidCallId("has spaces"));
  CHECK_FALSE(ValidCallId("a/b"));
  CHECK_FALSE(ValidCallId("x\n"));
}

}  // namespace
}  // namespace gantry::core
