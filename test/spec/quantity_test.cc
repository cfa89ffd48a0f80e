#include "spec/quantity.h"

#include <catch2/catch.hpp>
#include <string>

#include "spec/duration.h"

namespace gantry::spec {
namespace {

constexpr std::int64_t kMi = 1024 * 1024;

TEST_CASE("ParseMemory reads bytes, binary and decimal suffixes", "[spec][quantity]") {
  struct Case {
    std::string text;
    std::int64_t bytes;
  };
  const Case cases[] = {
      {"1048576", kMi},      {"128Mi", 128 * kMi}, {"1Gi", 1024 * kMi},
      {"1.5Gi", 1536 * kMi}, {"512Ki", kMi / 2},   {"100M", 100'000'000},
      {"1G", 1'000'000'000}, {"2k", 2000},         {"1Ti", 1024 * 1024 * kMi},
      {"0.5Mi", kMi / 2},    {".5Mi", kMi / 2},    {"0", 0},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto bytes = ParseMemory(c.text);
    REQUIRE(bytes.ok());
    CHECK(*bytes == c.bytes);
  }
}

TEST_CASE("ParseMemory rejects what is not a whole number of bytes", "[spec][quantity]") {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"128MB", "unknown unit"},
      {"128mi", "unknown unit"},
      {"-1Gi", "must not be negative"},
      {"1.5", "not a whole number of bytes"},
      {"0.1Ki", "not a whole number of bytes"},
      {"Mi", "not a number"},
      {"1..2Mi", "not a number"},
      {"99999999999999999999", "too large"},
      {"9999999999Ti", "too large"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto bytes = ParseMemory(c.text);
    REQUIRE_FALSE(bytes.ok());
    CHECK_THAT(bytes.error().message(), Catch::Contains(c.reason));
  }
}

TEST_CASE("FormatMemory gives the shortest exact form and reads back", "[spec][quantity]") {
  struct Case {
    std::int64_t bytes;
    std::string text;
  };
  const Case cases[] = {{128 * kMi, "128Mi"}, {1024 * kMi, "1Gi"}, {1536 * kMi, "1536Mi"},
                        {1000, "1k"},         {1001, "1001"},      {0, "0"}};
  for (const Case& c : cases) {
    CHECK(FormatMemory(c.bytes) == c.text);
    CHECK(*ParseMemory(FormatMemory(c.bytes)) == c.bytes);
  }
}

TEST_CASE("ParseCpu reads cores and millicores", "[spec][quantity]") {
  struct Case {
    std::string text;
    std::int64_t millis;
  };
  const Case cases[] = {{"0.5", 500},  {"500m", 500}, {"2", 2000}, {"0.25", 250},
                        {"1.0", 1000}, {"100m", 100}, {"0.001", 1}};
  for (const Case& c : cases) {
    INFO(c.text);
    auto millis = ParseCpu(c.text);
    REQUIRE(millis.ok());
    CHECK(*millis == c.millis);
    CHECK(*ParseCpu(FormatCpu(*millis)) == c.millis);
  }
  for (std::string bad : {"", "half", "0.0001", "-1", "1.5m", "2 cores", "1e3"}) {
    INFO(bad);
    CHECK_FALSE(ParseCpu(bad).ok());
  }
  CHECK(FormatCpu(500) == "500m");
  CHECK(FormatCpu(2000) == "2");
}

TEST_CASE("ParseDuration reads number-unit pairs", "[spec][duration]") {
  using std::chrono::milliseconds;
  struct Case {
    std::string text;
    std::int64_t millis;
  };
  const Case cases[] = {{"250ms", 250},       {"30s", 30'000}, {"5m", 300'000},   {"1h", 3'600'000},
                        {"1h30m", 5'400'000}, {"1.5s", 1500},  {"1m30s", 90'000}, {"0s", 0},
                        {"0.5ms", -1}};
  for (const Case& c : cases) {
    INFO(c.text);
    auto d = ParseDuration(c.text);
    if (c.millis < 0) {
      CHECK_FALSE(d.ok());
      continue;
    }
    REQUIRE(d.ok());
    CHECK(d->count() == c.millis);
    CHECK(ParseDuration(FormatDuration(*d))->count() == c.millis);
  }
  struct Bad {
    std::string text;
    std::string reason;
  };
  const Bad bad[] = {
      {"30", "missing unit"},          {"30sec", "unknown unit \"sec\""}, {"", "empty"},
      {"-5s", "must not be negative"}, {"s", "expected a number"},        {"99999999h", "too long"},
      {"5 m", "unknown unit"}};
  for (const Bad& b : bad) {
    INFO(b.text);
    auto d = ParseDuration(b.text);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.error().message(), Catch::Contains(b.reason));
  }
  CHECK(FormatDuration(milliseconds(90'500)) == "1m30s500ms");
  CHECK(FormatDuration(milliseconds(300'000)) == "5m");
}

}  // namespace
}  // namespace gantry::spec
