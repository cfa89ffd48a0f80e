#include "logstore/log_store.h"

#include <algorithm>

namespace gantry::logstore {
namespace {

constexpr std::string_view kCutMark = " [gantry: line cut]";
// Replicas whose calls are remembered; past it, those with no call in the last hour go.
constexpr std::size_t kMaxReplicasWithCalls = 4096;

bool SameLine(const LogEntry& a, const LogEntry& b) {
  return a.time == b.time && a.replica == b.replica && a.text == b.text;
}

}  // namespace

void LogSubscription::Wait(BatchFn on_batch) {
  LogBatch batch;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    if (buffer_.empty() && dropped_ == 0) {
      waiting_ = std::move(on_batch);
      return;
    }
    batch.entries.assign(std::make_move_iterator(buffer_.begin()),
                         std::make_move_iterator(buffer_.end()));
    buffer_.clear();
    batch.dropped = std::exchange(dropped_, 0);
  }
  on_batch(std::move(batch));
}

void LogSubscription::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  waiting_ = nullptr;
  buffer_.clear();
}

bool LogSubscription::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

std::optional<std::pair<LogSubscription::BatchFn, LogBatch>> LogSubscription::Push(
    const LogEntry& entry) {
  std::lock_guard lock(mu_);
  if (cancelled_) return std::nullopt;
  if (waiting_) {
    LogBatch batch{.entries = {entry}, .dropped = std::exchange(dropped_, 0)};
    return std::make_pair(std::exchange(waiting_, nullptr), std::move(batch));
  }
  buffer_.push_back(entry);
  while (buffer_.size() > capacity_) {
    buffer_.pop_front();
    ++dropped_;
  }
  return std::nullopt;
}

LogStore::LogStore(LogStoreOptions options)
    : options_(options),
      clock_(options_.clock != nullptr ? *options_.clock : core::SystemClock::Instance()) {}

bool LogStore::Append(const std::string& ns, const std::string& name, LogEntry entry) {
  entry.replica = ShortReplica(entry.replica);
  if (entry.text.size() > options_.max_line_bytes) {
    entry.text.resize(options_.max_line_bytes);
    entry.text += kCutMark;
  }
  const auto now = clock_.Wall();
  std::vector<std::pair<LogSubscription::BatchFn, LogBatch>> deliveries;
  {
    std::lock_guard lock(mu_);
    if (entry.time < now - options_.max_age) return false;
    if (entry.call_id.empty()) entry.call_id = CallAt(entry.replica, entry.time);
    CallsOf(entry.replica).function = {ns, name};
    FunctionLog& log = functions_[{ns, name}];
    // Lines come mostly in time order: the place (after the lines of the same time) is
    // found from the back, and a line kept already is among those just before it.
    auto at = log.entries.end();
    while (at != log.entries.begin() && std::prev(at)->time > entry.time) --at;
    for (auto same = at; same != log.entries.begin() && std::prev(same)->time == entry.time;) {
      if (SameLine(*--same, entry)) return false;
    }
    log.bytes += EntryBytes(entry);
    auto& subscribers = log.subscribers;
    std::erase_if(subscribers, [](const std::weak_ptr<LogSubscription>& w) {
      auto s = w.lock();
      return s == nullptr || s->cancelled();
    });
    for (const auto& w : subscribers) {
      if (auto s = w.lock()) {
        if (auto d = s->Push(entry)) deliveries.push_back(std::move(*d));
      }
    }
    log.entries.insert(at, std::move(entry));
    DropExcess(log, now);
  }
  for (auto& [deliver, batch] : deliveries) deliver(std::move(batch));
  return true;
}

void LogStore::DropExcess(FunctionLog& log, std::chrono::system_clock::time_point now) {
  const auto oldest = now - options_.max_age;
  while (!log.entries.empty() &&
         (log.bytes > options_.max_bytes_per_function || log.entries.front().time < oldest)) {
    log.bytes -= EntryBytes(log.entries.front());
    log.entries.pop_front();
  }
}

std::vector<LogEntry> LogStore::Select(const FunctionLog& log, const LogQuery& query) {
  auto first = log.entries.begin();
  if (query.since) {
    first = std::lower_bound(
        log.entries.begin(), log.entries.end(), *query.since,
        [](const LogEntry& e, std::chrono::system_clock::time_point t) { return e.time < t; });
  }
  auto count = static_cast<std::size_t>(std::distance(first, log.entries.end()));
  if (query.tail > 0 && count > query.tail)
    first += static_cast<std::ptrdiff_t>(count - query.tail);
  return {first, log.entries.end()};
}

std::vector<LogEntry> LogStore::Read(const std::string& ns, const std::string& name,
                                     const LogQuery& query) const {
  std::lock_guard lock(mu_);
  auto f = functions_.find({ns, name});
  if (f == functions_.end()) return {};
  auto entries = Select(f->second, query);
  // Lines past max_age go on the next write; a read does not show them meanwhile.
  const auto oldest = clock_.Wall() - options_.max_age;
  std::erase_if(entries, [&](const LogEntry& e) { return e.time < oldest; });
  return entries;
}

std::pair<std::vector<LogEntry>, std::shared_ptr<LogSubscription>> LogStore::Subscribe(
    const std::string& ns, const std::string& name, const LogQuery& query) {
  auto subscription = std::make_shared<LogSubscription>(options_.subscriber_buffer_lines);
  std::lock_guard lock(mu_);
  FunctionLog& log = functions_[{ns, name}];
  log.subscribers.push_back(subscription);
  const auto oldest = clock_.Wall() - options_.max_age;
  auto entries = Select(log, query);
  std::erase_if(entries, [&](const LogEntry& e) { return e.time < oldest; });
  return {std::move(entries), std::move(subscription)};
}

std::string LogStore::CallAt(const std::string& replica,
                             std::chrono::system_clock::time_point t) const {
  auto r = calls_.find(replica);
  if (r == calls_.end()) return "";
  return AttributeCall({r->second.calls.begin(), r->second.calls.end()}, t);
}

LogStore::ReplicaCalls& LogStore::CallsOf(const std::string& replica) {
  if (auto r = calls_.find(replica); r != calls_.end()) return r->second;
  if (calls_.size() >= kMaxReplicasWithCalls) {
    const auto stale = clock_.Wall() - std::chrono::hours(1);
    std::erase_if(calls_, [&](const auto& item) {
      return item.second.calls.empty() || item.second.calls.back().end < stale;
    });
  }
  return calls_[replica];
}

void LogStore::NoteCall(const std::string& replica_id, const std::string& call_id,
                        std::chrono::system_clock::time_point start,
                        std::chrono::system_clock::time_point end) {
  const std::string replica = ShortReplica(replica_id);
  std::lock_guard lock(mu_);
  ReplicaCalls& rc = CallsOf(replica);
  rc.calls.push_back({call_id, start, end});
  while (rc.calls.size() > options_.calls_per_replica) rc.calls.pop_front();
  // Lines the follower already kept (they usually come before the call's end is known).
  auto f = functions_.find(rc.function);
  if (f == functions_.end()) return;
  std::vector<CallSpan> spans(rc.calls.begin(), rc.calls.end());
  auto& entries = f->second.entries;
  for (auto it = entries.rbegin(); it != entries.rend() && it->time >= start; ++it) {
    if (it->replica != replica || !it->call_id.empty() || it->time > end) continue;
    it->call_id = AttributeCall(spans, it->time);
    f->second.bytes += it->call_id.size();
  }
  DropExcess(f->second, clock_.Wall());
}

void LogStore::Forget(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto f = functions_.find({ns, name});
  if (f == functions_.end()) return;
  f->second.entries.clear();
  f->second.bytes = 0;
  if (f->second.subscribers.empty()) functions_.erase(f);
}

std::size_t LogStore::Lines(const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto f = functions_.find({ns, name});
  return f == functions_.end() ? 0 : f->second.entries.size();
}

std::size_t LogStore::Bytes(const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto f = functions_.find({ns, name});
  return f == functions_.end() ? 0 : f->second.bytes;
}

}  // namespace gantry::logstore
