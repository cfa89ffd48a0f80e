// What the pool tells PoolOptions::on_event: a replica's start, readiness, death (with its
// exit code, OOM and last log lines read before the container is removed), removal, failed
// starts and scaling; and the crash-loop fields of FunctionStatus.
#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <vector>

#include "core/time_format.h"
#include "pool/container_spec.h"
#include "pool/died_log.h"
#include "pool_test_support.h"

namespace gantry::pool {
namespace {

using namespace std::chrono_literals;
using Kind = PoolEvent::Kind;

// Every event told, in order; thread-safe.
class EventLog {
 public:
  PoolEventFn Fn() {
    return [this](const PoolEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }
  std::vector<PoolEvent> All() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<PoolEvent> Of(Kind kind) const {
    std::vector<PoolEvent> out;
    for (const auto& e : All()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<PoolEvent> events_;
};

FunctionStatus MustDescribe(Pool& pool) {
  auto s = pool.Describe("default", "echo");
  REQUIRE(s.ok());
  return *s;
}

// Index of the first call equal to `call`; calls.size() when none.
size_t CallIndex(const std::vector<std::string>& calls, const std::string& call) {
  return static_cast<size_t>(std::find(calls.begin(), calls.end(), call) - calls.begin());
}

// A started pool with one ready replica of Echo (scale.min 1), following events.
std::string StartOneReady(Harness& h) {
  Deployment d = Echo();
  d.min_replicas = 1;
  d.memory_bytes = 128LL << 20;
  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  REQUIRE(h.docker.WaitForEventsFollower());
  h.pool->Flush();
  FunctionStatus s = MustDescribe(*h.pool);
  REQUIRE(s.ready == 1);
  return s.replicas.at(0).id;
}

TEST_CASE("pool events: a replica's start, readiness and death with its exit code and last lines",
          "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/true, log.Fn());
  std::string id = StartOneReady(h);
  REQUIRE(log.Of(Kind::kReplicaStarting).size() == 1);
  REQUIRE(log.Of(Kind::kReplicaReady).size() == 1);
  CHECK(log.Of(Kind::kReplicaStarting)[0].replica == id);
  CHECK(log.Of(Kind::kReplicaReady)[0].name == "echo");
  CHECK(log.Of(Kind::kReplicaReady)[0].namespace_name == "default");

  h.docker.SetLogs(id, {{docker::Stream::kStdout, "2026-01-02T15:04:05.250000000Z hello"},
                        {docker::Stream::kStderr, "2026-01-02T15:04:06.000000000Z boom"}});
  h.docker.Die(id, 3);
  h.pool->Flush();
  auto died = log.Of(Kind::kReplicaDied);
  REQUIRE(died.size() == 1);
  CHECK(died[0].replica == id);
  CHECK(died[0].exit_code == 3);
  CHECK_FALSE(died[0].oom);
  CHECK_FALSE(died[0].before_ready);
  REQUIRE(died[0].last_lines.size() == 2);
  CHECK(died[0].last_lines[1].text == "boom");
  CHECK(died[0].last_lines[1].stream == docker::Stream::kStderr);
  CHECK(core::FormatUtcMillis(died[0].last_lines[0].time) == "2026-01-02T15:04:05.250Z");
  CHECK_FALSE(died[0].reason.empty());
  // Read before the container went.
  auto calls = h.docker.calls();
  CHECK(CallIndex(calls, "Logs " + id) < CallIndex(calls, "RemoveContainer " + id));
  CHECK(CallIndex(calls, "RemoveContainer " + id) < calls.size());
  CHECK(log.Of(Kind::kReplicaRemoved).empty());  // a death is not a removal

  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.last_failure == died[0].reason);
  CHECK(s.last_log_line == "boom");
  CHECK(s.last_lines.size() == 2);
  CHECK_FALSE(s.last_failure_before_ready);
}

TEST_CASE("pool events: an OOM-killed replica's death says so", "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/true, log.Fn());
  std::string id = StartOneReady(h);
  h.docker.Die(id, 137, /*oom=*/true);
  h.pool->Flush();
  auto died = log.Of(Kind::kReplicaDied);
  REQUIRE(died.size() == 1);
  CHECK(died[0].oom);
  CHECK(died[0].exit_code == 137);
  CHECK_THAT(died[0].reason, Catch::Contains("out of memory"));
}

TEST_CASE("pool events: a replica never ready dies before ready, the back-off shows in the status",
          "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  REQUIRE(h.pool->Apply(Echo()).ok());
  h.probe.FailWith(core::Error::Timeout("shim.sock did not answer within 30000 ms"));
  auto a = h.Acquire();
  REQUIRE_FALSE(a->Wait().ok());
  h.pool->Flush();
  auto died = log.Of(Kind::kReplicaDied);
  REQUIRE(died.size() == 1);
  CHECK(died[0].before_ready);
  CHECK(died[0].exit_code == -1);  // the fake's container still runs
  CHECK(log.Of(Kind::kReplicaReady).empty());
  FunctionStatus s = MustDescribe(*h.pool);
  CHECK(s.failures_in_a_row == 1);
  CHECK(s.last_failure_before_ready);
  CHECK_FALSE(s.last_failure.empty());
  CHECK(s.next_retry > std::chrono::system_clock::now());
  CHECK(s.next_retry < std::chrono::system_clock::now() + 2s);
  // Past the back-off the status has no retry time; a second failure doubles it.
  h.clock.Advance(1500ms);
  CHECK(MustDescribe(*h.pool).next_retry == std::chrono::system_clock::time_point{});
  auto b = h.Acquire();
  REQUIRE_FALSE(b->Wait().ok());
  h.pool->Flush();
  s = MustDescribe(*h.pool);
  CHECK(s.failures_in_a_row == 2);
  CHECK(s.next_retry > std::chrono::system_clock::now() + 1s);
}

TEST_CASE("pool events: a container that cannot be created is a failed start", "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  h.probe.Open();
  h.docker.FailCalls("CreateContainer",
                     core::Error::NotFound("POST /containers/create: no such image"));
  REQUIRE(h.pool->Apply(Echo()).ok());
  auto a = h.Acquire();
  REQUIRE_FALSE(a->Wait().ok());
  h.pool->Flush();
  auto failed = log.Of(Kind::kStartFailed);
  REQUIRE(failed.size() == 1);
  CHECK_THAT(failed[0].reason, Catch::Contains("no such image"));
  CHECK(log.Of(Kind::kReplicaDied).empty());
  CHECK(log.Of(Kind::kReplicaStarting).empty());
}

TEST_CASE("pool events: Lease::Fail is a death", "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  Deployment d = Echo();
  d.min_replicas = 1;
  h.probe.Open();
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  auto a = h.Acquire();
  REQUIRE(a->Wait().ok());
  a->Wait()->Fail("connection refused");
  h.pool->Flush();
  auto died = log.Of(Kind::kReplicaDied);
  REQUIRE(died.size() == 1);
  CHECK(died[0].replica == a->Wait()->replica_id());
}

TEST_CASE("pool events: idle replicas are removed with the reason, scaling is told",
          "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  h.probe.Open();
  REQUIRE(h.pool->Apply(Echo()).ok());
  REQUIRE(h.pool->Scale("default", "echo", 2).ok());
  auto scaled = log.Of(Kind::kScaled);
  REQUIRE(scaled.size() == 1);
  CHECK(scaled[0].from == 0);
  CHECK(scaled[0].to == 2);
  CHECK(scaled[0].reason == "manual");
  h.pool->Flush();
  CHECK(log.Of(Kind::kReplicaReady).size() == 2);
  // Past the manual hold and the idle timeout both go.
  for (int i = 0; i < 30; ++i) {
    h.clock.Advance(2s);
    h.pool->Reconcile();
  }
  h.pool->Flush();
  auto removed = log.Of(Kind::kReplicaRemoved);
  REQUIRE(removed.size() == 2);
  CHECK(removed[0].reason == "idle");
  CHECK(h.docker.containers().empty());
  scaled = log.Of(Kind::kScaled);
  REQUIRE(scaled.size() >= 2);
  CHECK(scaled.back().to == 0);
  CHECK(scaled.back().reason == "autoscaler");
}

TEST_CASE("pool events: Remove tells each replica removed, not died", "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  Deployment d = Echo();
  d.min_replicas = 1;
  h.probe.Open();
  REQUIRE(h.pool->Apply(d).ok());
  h.pool->Flush();
  REQUIRE(h.pool->Remove("default", "echo").ok());
  h.pool->Flush();
  auto removed = log.Of(Kind::kReplicaRemoved);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].reason == "function removed");
  CHECK(log.Of(Kind::kReplicaDied).empty());
}

TEST_CASE("pool events: replicas adopted at Start are told started and ready", "[pool][events]") {
  EventLog log;
  Harness h(/*watch_events=*/false, log.Fn());
  Deployment d = Echo(3);
  docker::ContainerSpec spec;
  spec.name = ContainerName(d, "r00000000aa");
  spec.labels = ReplicaLabels(d, "r00000000aa", h.options.extra_labels);
  spec.network_mode = "bridge";
  std::string id = h.docker.AddRunning(spec);
  h.probe.Open();
  REQUIRE(h.pool->Start({d}).ok());
  h.pool->Flush();
  auto started = log.Of(Kind::kReplicaStarting);
  auto ready = log.Of(Kind::kReplicaReady);
  REQUIRE(started.size() == 1);
  REQUIRE(ready.size() == 1);
  CHECK(started[0].replica == id);
  CHECK(started[0].reason == "adopted");
  CHECK(ready[0].generation == 3);
}

TEST_CASE("pool events: timestamped engine log lines parse to the microsecond", "[pool][events]") {
  LogLine l = ParseTimestampedLine(docker::Stream::kStderr, "2026-01-02T15:04:05.123456789Z a b\n");
  CHECK(l.text == "a b");
  CHECK(l.stream == docker::Stream::kStderr);
  CHECK(core::FormatUtcMillis(l.time) == "2026-01-02T15:04:05.123Z");
  CHECK(std::chrono::duration_cast<std::chrono::microseconds>(l.time.time_since_epoch()).count() %
            1'000'000 ==
        123'456);
  LogLine bare = ParseTimestampedLine(docker::Stream::kStdout, "no stamp here");
  CHECK(bare.text == "no stamp here");
  CHECK(bare.time == std::chrono::system_clock::time_point{});
}

}  // namespace
}  // namespace gantry::pool
