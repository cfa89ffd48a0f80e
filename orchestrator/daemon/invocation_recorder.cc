#include "daemon/invocation_recorder.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "core/log.h"

namespace gantry::daemon {

InvocationRecorder::InvocationRecorder(store::Store& store, RecorderOptions options)
    : InvocationRecorder(
          [&store](const std::vector<store::InvocationRecord>& records) {
            return store.RecordInvocations(records);
          },
          options) {
  // The compute counters go on from what the store has (a restart does not reset them).
  if (auto usage = store.Usage({}); usage) {
    for (const auto& row : *usage) kib_ms_[{row.namespace_name, row.function}] = row.kib_ms;
  } else {
    core::Log(core::LogLevel::kWarn, "records: usage not read, compute counters start at 0: {}",
              usage.error().message());
  }
}

InvocationRecorder::InvocationRecorder(WriteFn write, RecorderOptions options)
    : write_(std::move(write)), options_(options) {}

InvocationRecorder::~InvocationRecorder() {
  Stop();
}

void InvocationRecorder::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Work(); });
}

void InvocationRecorder::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  Flush();
}

store::InvocationRecord InvocationRecorder::ToStore(gateway::CallRecord&& call) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return store::InvocationRecord{
      .call_id = std::move(call.call_id),
      .namespace_name = std::move(call.ns),
      .function = std::move(call.name),
      .generation = call.generation,
      .replica = std::move(call.replica),
      .trigger = std::move(call.trigger),
      .cold = call.cold,
      .start = std::move(call.start),
      .queue_wait_us = call.queue_wait.count(),
      .duration_us = call.run_time.count(),
      .status = call.status,
      .request_bytes = call.request_bytes,
      .response_bytes = call.response_bytes,
      .error = std::move(call.error),
      .started_unix_ms = duration_cast<milliseconds>(call.started.time_since_epoch()).count(),
      .memory_bytes = call.memory_bytes};
}

void InvocationRecorder::Add(gateway::CallRecord&& call) {
  store::InvocationRecord record = ToStore(std::move(call));
  bool full_batch = false;
  {
    auto& shard = queues_.Local();
    std::lock_guard lock(shard.mu);
    if (shard.value.size() >= options_.max_queued) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (shard.value.capacity() == 0) shard.value.reserve(options_.batch);
    shard.value.push_back(std::move(record));
    full_batch = shard.value.size() == options_.batch;
  }
  if (full_batch) {  // once a batch, so the writer's lock is no cost per call
    {
      std::lock_guard lock(mu_);
      full_ = true;
    }
    wake_.notify_one();
  }
}

gateway::CallRecordFn InvocationRecorder::Hook() {
  return [this](gateway::CallRecord&& call) { Add(std::move(call)); };
}

void InvocationRecorder::Flush() {
  std::lock_guard writing(write_mu_);
  {
    std::lock_guard lock(mu_);
    full_ = false;
  }
  std::vector<store::InvocationRecord> queued;
  queues_.ForEach([&](std::vector<store::InvocationRecord>& queue) {
    if (queued.empty()) {
      queued.swap(queue);
    } else {
      queued.insert(queued.end(), std::make_move_iterator(queue.begin()),
                    std::make_move_iterator(queue.end()));
      queue.clear();
    }
  });
  for (std::size_t at = 0; at < queued.size(); at += options_.batch) {
    const std::size_t end = std::min(queued.size(), at + options_.batch);
    std::vector<store::InvocationRecord> batch(
        std::make_move_iterator(queued.begin() + static_cast<std::ptrdiff_t>(at)),
        std::make_move_iterator(queued.begin() + static_cast<std::ptrdiff_t>(end)));
    if (auto s = write_(batch); !s) {
      core::Log(core::LogLevel::kWarn, "records: {} invocation record(s) not written: {}",
                batch.size(), s.error().message());
      dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
      continue;
    }
    std::lock_guard lock(usage_mu_);
    for (const auto& r : batch) {
      if (r.replica.empty()) continue;  // as the store's usage: only calls that ran
      kib_ms_[{r.namespace_name, r.function}] += store::KibMs(r.memory_bytes, r.duration_us);
    }
  }
}

void InvocationRecorder::Work() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.flush_every, [this] { return stopping_ || full_; });
    if (stopping_) return;  // Stop() flushes
    lock.unlock();
    Flush();
    lock.lock();
  }
}

std::uint64_t InvocationRecorder::dropped() const {
  return dropped_.load(std::memory_order_relaxed);
}

std::vector<prometheus::MetricFamily> InvocationRecorder::Collect() const {
  prometheus::ClientMetric m;
  m.counter.value = static_cast<double>(dropped());
  prometheus::MetricFamily compute{
      .name = "gantry_function_compute_gb_seconds_total",
      .help =
          "Compute billed: memory limit (GiB) x run time of each call that ran, rounded "
          "up to 1 ms.",
      .type = prometheus::MetricType::Counter};
  {
    std::lock_guard lock(usage_mu_);
    for (const auto& [key, kib_ms] : kib_ms_) {
      prometheus::ClientMetric c;
      c.label = {{"namespace", key.first}, {"function", key.second}};
      c.counter.value = store::UsageRow{.kib_ms = kib_ms}.gb_seconds();
      compute.metric.push_back(std::move(c));
    }
  }
  return {prometheus::MetricFamily{
              .name = "gantry_invocation_records_dropped_total",
              .help = "Invocation records not written: the recorder's queue was full or the "
                      "store refused a batch.",
              .type = prometheus::MetricType::Counter,
              .metric = {std::move(m)}},
          std::move(compute)};
}

}  // namespace gantry::daemon
