// LogStore: bounds (bytes, age, line length), tail per function, dedupe, followers (slow
// ones drop with a count), call attribution; LogFollowers' died-replica lines.
#include "logstore/log_store.h"

#include <catch2/catch.hpp>

#include "logstore/call_attribution.h"
#include "logstore/engine_log_line.h"
#include "logstore/log_followers.h"
#include "support/fake_docker_client.h"

namespace gantry::logstore {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::system_clock::time_point;

LogEntry Line(Time t, std::string text, std::string replica = "aaaaaaaaaaaa") {
  return LogEntry{.time = t, .text = std::move(text), .replica = std::move(replica)};
}

std::vector<std::string> Texts(const std::vector<LogEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.text);
  return out;
}

}  // namespace

TEST_CASE("logstore: a function's lines stay within its byte bound, oldest dropped first",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.max_bytes_per_function = 100 * 1024, .clock = &clock});
  const std::string text(100, 'x');
  for (int i = 0; i < 10'000; ++i) {
    store.Append("ns", "fn",
                 Line(clock.Wall() + std::chrono::microseconds(i), text + std::to_string(i)));
  }
  CHECK(store.Bytes("ns", "fn") <= 100 * 1024);
  auto all = store.Read("ns", "fn", {});
  REQUIRE(!all.empty());
  CHECK(all.back().text == text + "9999");
  CHECK(all.size() < 1000);
  // Another function has its own bound and lines.
  store.Append("ns", "other", Line(clock.Wall(), "alone"));
  CHECK(Texts(store.Read("ns", "other", {})) == std::vector<std::string>{"alone"});
}

TEST_CASE("logstore: lines older than max_age go", "[logstore]") {
  core::ManualClock clock;
  LogStore store({.max_age = 1h, .clock = &clock});
  store.Append("ns", "fn", Line(clock.Wall(), "old"));
  clock.Advance(30min);
  store.Append("ns", "fn", Line(clock.Wall(), "newer"));
  clock.Advance(31min);
  CHECK(Texts(store.Read("ns", "fn", {})) == std::vector<std::string>{"newer"});
  store.Append("ns", "fn", Line(clock.Wall(), "newest"));
  CHECK(store.Lines("ns", "fn") == 2);
  // A line already past the age is not kept at all.
  CHECK_FALSE(store.Append("ns", "fn", Line(clock.Wall() - 2h, "ancient")));
}

TEST_CASE("logstore: a long line is cut and marked", "[logstore]") {
  core::ManualClock clock;
  LogStore store({.max_line_bytes = 10, .clock = &clock});
  store.Append("ns", "fn", Line(clock.Wall(), std::string(1000, 'y')));
  auto lines = store.Read("ns", "fn", {});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text == std::string(10, 'y') + " [gantry: line cut]");
}

TEST_CASE("logstore: tail counts per function across replicas, since filters by time",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  const Time t0 = clock.Wall();
  for (int i = 0; i < 6; ++i) {
    store.Append("ns", "fn",
                 Line(t0 + std::chrono::seconds(i), "l" + std::to_string(i),
                      i % 2 == 0 ? "aaaaaaaaaaaa" : "bbbbbbbbbbbb"));
  }
  CHECK(Texts(store.Read("ns", "fn", {.tail = 3})) == std::vector<std::string>{"l3", "l4", "l5"});
  CHECK(Texts(store.Read("ns", "fn", {.since = t0 + 4s})) == std::vector<std::string>{"l4", "l5"});
  CHECK(Texts(store.Read("ns", "fn", {.since = t0 + 1s, .tail = 1})) ==
        std::vector<std::string>{"l5"});
  CHECK(store.Read("ns", "nope", {}).empty());
}

TEST_CASE("logstore: lines are kept in time order and a line kept already is not added twice",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  const Time t0 = clock.Wall();
  CHECK(store.Append("ns", "fn", Line(t0 + 1s, "one")));
  CHECK(store.Append("ns", "fn", Line(t0 + 3s, "three")));
  // A died replica's last lines: some the follower already had, one it missed.
  CHECK_FALSE(store.Append("ns", "fn", Line(t0 + 1s, "one")));
  CHECK(store.Append("ns", "fn", Line(t0 + 2s, "two")));
  CHECK_FALSE(store.Append("ns", "fn", Line(t0 + 3s, "three")));
  // Same time and text from another replica is another line.
  CHECK(store.Append("ns", "fn", Line(t0 + 3s, "three", "bbbbbbbbbbbb")));
  CHECK(Texts(store.Read("ns", "fn", {})) ==
        std::vector<std::string>{"one", "two", "three", "three"});
}

TEST_CASE("logstore: a follower gets the backlog and then each new line once", "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  store.Append("ns", "fn", Line(clock.Wall(), "before"));
  auto [backlog, sub] = store.Subscribe("ns", "fn", {.tail = 10});
  CHECK(Texts(backlog) == std::vector<std::string>{"before"});
  std::vector<std::string> got;
  sub->Wait([&](LogBatch b) {
    for (auto& e : b.entries) got.push_back(e.text);
  });
  CHECK(got.empty());  // nothing new yet: waits
  store.Append("ns", "fn", Line(clock.Wall() + 1s, "after"));
  CHECK(got == std::vector<std::string>{"after"});
  // Lines that come while nobody waits are buffered for the next Wait.
  store.Append("ns", "fn", Line(clock.Wall() + 2s, "x"));
  store.Append("ns", "fn", Line(clock.Wall() + 3s, "y"));
  got.clear();
  sub->Wait([&](LogBatch b) {
    for (auto& e : b.entries) got.push_back(e.text);
  });
  CHECK(got == std::vector<std::string>{"x", "y"});
  // Other functions' lines are not delivered; after Cancel nothing is.
  bool called = false;
  sub->Wait([&](LogBatch) { called = true; });
  store.Append("ns", "other", Line(clock.Wall(), "elsewhere"));
  CHECK_FALSE(called);
  sub->Cancel();
  store.Append("ns", "fn", Line(clock.Wall() + 4s, "late"));
  CHECK_FALSE(called);
}

TEST_CASE("logstore: a slow follower loses the oldest waiting lines, counted, and never blocks",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.subscriber_buffer_lines = 5, .clock = &clock});
  auto [backlog, sub] = store.Subscribe("ns", "fn", {});
  for (int i = 0; i < 100; ++i) {
    store.Append("ns", "fn", Line(clock.Wall() + std::chrono::milliseconds(i), std::to_string(i)));
  }
  CHECK(store.Lines("ns", "fn") == 100);  // the store keeps them all
  LogBatch batch;
  sub->Wait([&](LogBatch b) { batch = std::move(b); });
  CHECK(batch.dropped == 95);
  CHECK(Texts(batch.entries) == std::vector<std::string>{"95", "96", "97", "98", "99"});
}

TEST_CASE("logstore: a line belongs to the one call of its replica that spans it", "[logstore]") {
  const Time t0{std::chrono::seconds(1'000'000)};
  std::vector<CallSpan> calls = {
      {"a", t0, t0 + 10ms}, {"b", t0 + 20ms, t0 + 40ms}, {"c", t0 + 30ms, t0 + 50ms}};
  struct Case {
    std::chrono::milliseconds at;
    std::string want;
  };
  for (const auto& c : {Case{0ms, "a"}, Case{10ms, "a"}, Case{15ms, ""}, Case{25ms, "b"},
                        Case{35ms, ""}, Case{45ms, "c"}, Case{60ms, ""}}) {
    INFO(c.at.count());
    CHECK(AttributeCall(calls, t0 + c.at) == c.want);
  }
  CHECK(AttributeCall({}, t0).empty());
}

TEST_CASE("logstore: NoteCall gives call ids to kept and later lines of that replica",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  const Time t0 = clock.Wall();
  const std::string replica = "aaaaaaaaaaaa0123456789";  // a whole container id
  store.Append("ns", "fn", Line(t0 + 5ms, "during", replica));
  store.Append("ns", "fn", Line(t0 + 5ms, "other replica", "bbbbbbbbbbbb"));
  store.Append("ns", "fn", Line(t0 + 20ms, "after", replica));
  store.NoteCall(replica, "call-1", t0, t0 + 10ms);
  store.NoteCall(replica, "call-2", t0 + 30ms, t0 + 40ms);
  store.Append("ns", "fn", Line(t0 + 35ms, "in call 2", replica));
  auto lines = store.Read("ns", "fn", {});
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].call_id == "call-1");
  CHECK(lines[0].replica == "aaaaaaaaaaaa");
  CHECK(lines[1].call_id.empty());
  CHECK(lines[2].call_id.empty());
  CHECK(lines[3].call_id == "call-2");
}

TEST_CASE("logstore: engine log lines parse to the nanosecond", "[logstore]") {
  auto l = ParseEngineLogLine("2026-01-02T15:04:05.123456789Z hello world");
  REQUIRE(l.has_value());
  CHECK(l->text == "hello world");
  auto since_epoch = l->time.time_since_epoch();
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count() == 1767366245);
  CHECK(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count() % 1'000'000'000 ==
        123456789);
  auto empty = ParseEngineLogLine("2026-01-02T15:04:05Z");
  REQUIRE(empty.has_value());
  CHECK(empty->text.empty());
  CHECK_FALSE(ParseEngineLogLine("no time here").has_value());
}

TEST_CASE("logstore: the call id a shim line starts with", "[logstore]") {
  CHECK(ShimCallId("[16ba060c-e59c-4688-9ed5-5112c5eb5a98] stderr: line one") ==
        "16ba060c-e59c-4688-9ed5-5112c5eb5a98");
  for (const char* no : {"gantry-shim: stopped", "[16ba060c-e59c-4688-9ed5-5112c5eb5a98]",
                         "[16ba060c-e59c-4688-9ed5-5112c5eb5a9z] x", "[not an id] x", ""}) {
    INFO(no);
    CHECK(ShimCallId(no).empty());
  }
}

TEST_CASE("logstore: a died replica's last lines are kept once, with the follower's",
          "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  testing::FakeDockerClient docker;
  {
    LogFollowers followers(docker, store);
    pool::PoolEvent died{.kind = pool::PoolEvent::Kind::kReplicaDied,
                         .namespace_name = "ns",
                         .name = "fn",
                         .generation = 3,
                         .replica = "cccccccccccc99"};
    died.last_lines = {
        {clock.Wall(), docker::Stream::kStderr, "Traceback (most recent call last):"},
        {clock.Wall() + 1ms, docker::Stream::kStderr,
         "ModuleNotFoundError: No module named 'requests'"}};
    store.Append("ns", "fn",
                 Line(clock.Wall(), "Traceback (most recent call last):",
                      "cccccccccccc99"));  // the follower's copy
    followers.OnEvent(died);
    followers.OnEvent(died);  // told twice: still once
  }
  auto lines = store.Read("ns", "fn", {});
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].text == "ModuleNotFoundError: No module named 'requests'");
  CHECK(lines[1].stream == LogStream::kStderr);
  CHECK(lines[1].generation == 3);
}

TEST_CASE("logstore: a starting replica gets a follower of its container's log", "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  testing::FakeDockerClient docker;
  LogFollowers followers(docker, store);
  followers.OnEvent({.kind = pool::PoolEvent::Kind::kReplicaStarting,
                     .namespace_name = "ns",
                     .name = "fn",
                     .replica = "dddddddddddd"});
  followers.OnEvent({.kind = pool::PoolEvent::Kind::kReplicaStarting,
                     .namespace_name = "ns",
                     .name = "fn",
                     .replica = "dddddddddddd"});
  // (The fake's log is empty and ends at once: the follower is done.)
  for (int i = 0; i < 1000 && followers.following() > 0; ++i) std::this_thread::yield();
  auto calls = docker.calls();
  CHECK(std::count(calls.begin(), calls.end(), "Logs dddddddddddd") >= 1);
}

TEST_CASE("logstore: a resync follows listed replicas once, and forgets those gone", "[logstore]") {
  core::ManualClock clock;
  LogStore store({.clock = &clock});
  testing::FakeDockerClient docker;
  LogFollowers followers(docker, store);
  pool::FunctionStatus fn{.namespace_name = "ns", .name = "fn"};
  fn.replicas = {{.id = "eeeeeeeeeeee"}, {.id = "ffffffffffff"}};
  auto count = [&](const std::string& id) {
    auto calls = docker.calls();
    return std::count(calls.begin(), calls.end(), "Logs " + id);
  };
  auto settle = [&] {
    for (int i = 0; i < 100000 && followers.following() > 0; ++i) std::this_thread::yield();
  };
  followers.FollowAll({fn}, 10);
  settle();
  followers.FollowAll({fn}, 10);  // listed still: not followed again
  settle();
  CHECK(count("eeeeeeeeeeee") == 1);
  CHECK(count("ffffffffffff") == 1);
  fn.replicas.pop_back();
  followers.FollowAll({fn}, 10);
  settle();
  CHECK(count("eeeeeeeeeeee") == 1);
  CHECK(count("ffffffffffff") == 1);
}

}  // namespace gantry::logstore
