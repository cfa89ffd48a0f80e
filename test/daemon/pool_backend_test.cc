// PoolBackend's hint for a failed call's body, from the pool's status of the function.
#include "daemon/pool_backend.h"

#include <catch2/catch.hpp>

namespace gantry::daemon {
namespace {

TEST_CASE("HintFromStatus: the pool's last failure without whose it was or where",
          "[daemon][failures]") {
  pool::FunctionStatus s;
  s.namespace_name = "team";
  s.name = "hello";
  CHECK(HintFromStatus(s, {}).reason.empty());
  CHECK_FALSE(HintFromStatus(s, {}).serving);

  s.last_error = "replica rc6af2d2737 died: container exited (code 3)";
  CHECK(HintFromStatus(s, {}).reason == "container exited (code 3)");
  s.last_error =
      "replica failed to start: mount a 1048576-byte tmpfs on "
      "/srv/gantry-state/run/rc6af2d2737: Operation not permitted";
  CHECK(HintFromStatus(s, {"/srv/gantry-state"}).reason ==
        "mount a 1048576-byte tmpfs on <gantry dir>: Operation not permitted");
  s.last_error =
      "replica failed to start: /srv/gantry-state/run/r1/shim.sock did not answer "
      "within 30000 ms";
  CHECK(HintFromStatus(s, {"/srv/gantry-state"}).reason ==
        "<socket> did not answer within 30000 ms");

  s.ready = 1;
  CHECK(HintFromStatus(s, {}).serving);
}

}  // namespace
}  // namespace gantry::daemon
