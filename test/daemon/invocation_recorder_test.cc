// The invocation recorder with a fake writer: batches, the bounded queue, flush on Stop.
#include "daemon/invocation_recorder.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gantry::daemon {
namespace {

using std::chrono::hours;

struct FakeWriter {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<store::InvocationRecord>> batches;
  bool fail = false;

  InvocationRecorder::WriteFn fn() {
    return [this](const std::vector<store::InvocationRecord>& batch) -> core::Status {
      std::lock_guard lock(mu);
      if (fail) return core::Error::Unavailable("database is locked");
      batches.push_back(batch);
      cv.notify_all();
      return core::Ok();
    };
  }
  std::vector<std::size_t> sizes() {
    std::lock_guard lock(mu);
    std::vector<std::size_t> out;
    for (const auto& b : batches) out.push_back(b.size());
    return out;
  }
  std::size_t total() {
    std::size_t n = 0;
    for (auto s : sizes()) n += s;
    return n;
  }
};

gateway::CallRecord Call(int i) {
  return gateway::CallRecord{.call_id = "c" + std::to_string(i),
                             .ns = "default",
                             .name = "echo",
                             .generation = 2,
                             .replica = "0123456789abcdef",
                             .memory_bytes = 128 << 20,
                             .cold = true,
                             .queue_wait = std::chrono::microseconds(1500),
                             .run_time = std::chrono::microseconds(2500),
                             .status = 200,
                             .request_bytes = 5,
                             .response_bytes = 7,
                             .error = "",
                             .started = std::chrono::system_clock::time_point(
                                 std::chrono::milliseconds(1'700'000'000'123))};
}

TEST_CASE("recorder: what is queued is written in batches of at most `batch`, in order",
          "[daemon][records]") {
  FakeWriter w;
  InvocationRecorder r(w.fn(), {.max_queued = 100, .batch = 4, .flush_every = hours(1)});
  for (int i = 0; i < 10; ++i) r.Add(Call(i));
  CHECK(w.total() == 0);  // nothing is written on the caller's thread
  r.Flush();
  CHECK(w.sizes() == std::vector<std::size_t>{4, 4, 2});
  CHECK(w.batches[0][0].call_id == "c0");
  CHECK(w.batches[2][1].call_id == "c9");
  CHECK(r.dropped() == 0);
}

TEST_CASE("recorder: a record becomes the store's row field by field", "[daemon][records]") {
  store::InvocationRecord s = InvocationRecorder::ToStore(Call(1));
  CHECK(s.call_id == "c1");
  CHECK(s.namespace_name == "default");
  CHECK(s.function == "echo");
  CHECK(s.generation == 2);
  CHECK(s.replica == "0123456789abcdef");
  CHECK(s.trigger == "http");
  CHECK(s.cold);
  CHECK(s.queue_wait_us == 1500);
  CHECK(s.duration_us == 2500);
  CHECK(s.status == 200);
  CHECK(s.request_bytes == 5);
  CHECK(s.response_bytes == 7);
  CHECK(s.started_unix_ms == 1'700'000'000'123);
  CHECK(s.state.empty());
}

TEST_CASE("recorder: a full queue drops and counts, and /metrics shows the count",
          "[daemon][records]") {
  FakeWriter w;
  InvocationRecorder r(w.fn(), {.max_queued = 3, .batch = 10, .flush_every = hours(1)});
  for (int i = 0; i < 5; ++i) r.Add(Call(i));
  CHECK(r.dropped() == 2);
  auto families = r.Collect();
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "gantry_invocation_records_dropped_total");
  CHECK(families[0].metric.at(0).counter.value == 2);
  CHECK(families[1].name == "gantry_function_compute_gb_seconds_total");
  CHECK(families[1].metric.empty());  // nothing written yet
  r.Stop();                           // writes the three it kept
  CHECK(w.sizes() == std::vector<std::size_t>{3});
  // Their compute: 3 calls of 128 MiB x 3 ms (2.5 ms rounded up).
  families = r.Collect();
  REQUIRE(families[1].metric.size() == 1);
  CHECK(families[1].metric[0].label.at(1).value == "echo");
  CHECK(families[1].metric[0].counter.value == Approx(3 * 0.125 * 0.003));
}

TEST_CASE("recorder: each thread queues on its own, and every record is written once",
          "[daemon][records]") {
  FakeWriter w;
  // The bound is per recording thread: 4 threads x 60 fit under 100 each.
  InvocationRecorder r(w.fn(), {.max_queued = 100, .batch = 16, .flush_every = hours(1)});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 60; ++i) r.Add(Call(t * 1000 + i));
    });
  }
  for (auto& t : threads) t.join();  // their queues outlive them
  r.Flush();
  CHECK(r.dropped() == 0);
  for (auto n : w.sizes()) CHECK(n <= 16);
  std::map<int, std::vector<int>> by_thread;
  for (const auto& batch : w.batches) {
    for (const auto& rec : batch) {
      int i = std::stoi(rec.call_id.substr(1));
      by_thread[i / 1000].push_back(i % 1000);
    }
  }
  REQUIRE(by_thread.size() == 4);
  std::vector<int> in_order(60);
  for (int i = 0; i < 60; ++i) in_order[static_cast<std::size_t>(i)] = i;
  for (const auto& [t, seen] : by_thread) CHECK(seen == in_order);  // a thread's, in order
  r.Flush();                                                        // nothing twice
  CHECK(w.total() == 240);
}

TEST_CASE("recorder: a batch the store refuses is counted as dropped", "[daemon][records]") {
  FakeWriter w;
  w.fail = true;
  InvocationRecorder r(w.fn(), {.max_queued = 10, .batch = 10, .flush_every = hours(1)});
  r.Add(Call(1));
  r.Add(Call(2));
  r.Flush();
  CHECK(r.dropped() == 2);
}

TEST_CASE("recorder: the writer thread writes a full batch at once, Stop writes the rest",
          "[daemon][records]") {
  FakeWriter w;
  InvocationRecorder r(w.fn(), {.max_queued = 100, .batch = 3, .flush_every = hours(1)});
  r.Start();
  for (int i = 0; i < 4; ++i) r.Add(Call(i));
  {
    // The thread wakes for the full batch (flush_every is an hour away).
    std::unique_lock lock(w.mu);
    REQUIRE(w.cv.wait_for(lock, std::chrono::seconds(10), [&] { return !w.batches.empty(); }));
  }
  r.Stop();
  CHECK(w.total() == 4);
  r.Stop();  // idempotent
  CHECK(w.total() == 4);
}

}  // namespace
}  // namespace gantry::daemon
