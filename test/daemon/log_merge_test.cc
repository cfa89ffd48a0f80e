// BoundedLogMerge: the newest lines of several replicas, by time, within a byte bound.
#include "daemon/log_merge.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

namespace gantry::daemon {
namespace {

std::string Stamp(int i) {
  return fmt::format("2026-01-01T00:00:{:02}.{:09}Z", i / 1'000'000, i % 1'000'000);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_CASE("log merge: replicas read one after another come out in time order", "[daemon]") {
  BoundedLogMerge merge(1 << 20);
  for (int i = 0; i < 10; i += 2) merge.Add(Stamp(i), "a" + std::to_string(i));
  for (int i = 1; i < 10; i += 2) merge.Add(Stamp(i), "b" + std::to_string(i));
  merge.Add(Stamp(4), "b4");  // equal stamps keep the order they came in
  CHECK(merge.dropped() == 0);
  CHECK(merge.oldest() == Stamp(0));
  CHECK(Lines(merge.Take()) ==
        std::vector<std::string>{"a0", "b1", "a2", "b3", "a4", "b4", "b5", "a6", "b7", "a8", "b9"});
  CHECK(merge.size() == 0);
}

TEST_CASE("log merge: a million lines keep only the newest that fit, and memory stays bounded",
          "[daemon]") {
  const std::size_t kMax = 64 * 1024;
  BoundedLogMerge merge(kMax);
  const int kLines = 1'000'000;
  std::size_t peak = 0;
  // Two replicas, the second one's lines interleaved in time with the first's.
  for (int i = 0; i < kLines; i += 2) {
    merge.Add(Stamp(i), fmt::format("{:>40}", i));
    peak = std::max(peak, merge.bytes());
  }
  for (int i = 1; i < kLines; i += 2) {
    merge.Add(Stamp(i), fmt::format("{:>40}", i));
    peak = std::max(peak, merge.bytes());
  }
  CHECK(peak <= kMax);
  CHECK(merge.dropped() > 0);
  std::size_t kept = merge.size();
  CHECK(kept == kMax / 41);
  std::vector<std::string> lines = Lines(merge.Take());
  REQUIRE(lines.size() == kept);
  // The newest, in order, none missing in between.
  for (std::size_t k = 0; k < lines.size(); ++k) {
    CHECK(std::stoi(lines[k]) == kLines - static_cast<int>(kept) + static_cast<int>(k));
  }
}

TEST_CASE("log merge: a line bigger than the bound is dropped, not kept over it", "[daemon]") {
  BoundedLogMerge merge(10);
  merge.Add(Stamp(1), std::string(100, 'x'));
  CHECK(merge.bytes() == 0);
  CHECK(merge.dropped() == 1);
  merge.Add(Stamp(2), "ok");
  CHECK(merge.Take() == "ok\n");
}

}  // namespace
}  // namespace gantry::daemon
