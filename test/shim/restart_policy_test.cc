#include "restart_policy.h"

#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

TEST_CASE("Quick failures back off exponentially up to the cap", "[shim][restart]") {
  RestartPolicy policy(
      RestartOptions{milliseconds(50), milliseconds(300), milliseconds(1000), 100});
  TimePoint now{};
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) {
    policy.Started(now);
    policy.BecameReady();
    now += milliseconds(10);
    auto delay = policy.Exited(now);
    REQUIRE(delay);
    delays.push_back(static_cast<long>(delay->count()));
  }
  CHECK(delays == std::vector<long>{50, 100, 200, 300, 300, 300});
}

TEST_CASE("A stable run restarts at once and resets the back-off", "[shim][restart]") {
  RestartPolicy policy(RestartOptions{milliseconds(50), milliseconds(2000), milliseconds(1000), 5});
  TimePoint now{};
  policy.Started(now);
  policy.BecameReady();
  CHECK(policy.Exited(now + milliseconds(10)) == milliseconds(50));
  policy.Started(now);
  policy.BecameReady();
  CHECK(policy.Exited(now + milliseconds(10)) == milliseconds(100));
  policy.Started(now);
  policy.BecameReady();
  CHECK(policy.Exited(now + milliseconds(5000)) == milliseconds(0));
  policy.Started(now);
  policy.BecameReady();
  CHECK(policy.Exited(now + milliseconds(10)) == milliseconds(50));
}

TEST_CASE("Exiting before ready too often means the function can't run", "[shim][restart]") {
  RestartPolicy policy(RestartOptions{milliseconds(50), milliseconds(2000), milliseconds(1000), 3});
  TimePoint now{};
  policy.Started(now);
  CHECK(policy.Exited(now).has_value());
  policy.Started(now);
  CHECK(policy.Exited(now).has_value());
  policy.Started(now);
  CHECK_FALSE(policy.Exited(now).has_value());
  CHECK(policy.unready_exits() == 3);
}

TEST_CASE("Getting ready resets the count of unready exits", "[shim][restart]") {
  RestartPolicy policy(RestartOptions{milliseconds(50), milliseconds(2000), milliseconds(1000), 2});
  TimePoint now{};
  policy.Started(now);
  CHECK(policy.Exited(now).has_value());
  policy.Started(now);
  policy.BecameReady();
  CHECK(policy.Exited(now).has_value());
  policy.Started(now);
  CHECK(policy.Exited(now).has_value());  // one unready exit since the last ready run
}

}  // namespace
}  // namespace gantry::shim
