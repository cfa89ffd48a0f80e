#include "logstore/log_followers.h"

#include <atomic>
#include <condition_variable>

#include "core/log.h"
#include "logstore/engine_log_line.h"

namespace gantry::logstore {
namespace {

LogStream FromDocker(docker::Stream s) {
  return s == docker::Stream::kStderr ? LogStream::kStderr : LogStream::kStdout;
}

}  // namespace

LogFollowers::LogFollowers(docker::DockerClient& docker, LogStore& store)
    : docker_(docker), store_(store) {}

LogFollowers::~LogFollowers() {
  std::map<std::string, Follower> followers;
  std::vector<std::jthread> finished;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    followers.swap(followers_);
    finished.swap(finished_);
  }
  for (auto& [id, f] : followers) f.thread.request_stop();
  // The jthreads join as they go out of scope here.
}

void LogFollowers::ReapFinished() {
  for (auto it = followers_.begin(); it != followers_.end();) {
    if (it->second.done->load()) {
      finished_.push_back(std::move(it->second.thread));
      it = followers_.erase(it);
    } else {
      ++it;
    }
  }
}

void LogFollowers::Follow(const std::string& ns, const std::string& name, int64_t generation,
                          const std::string& replica, std::chrono::system_clock::time_point since,
                          int64_t tail) {
  std::vector<std::jthread> finished;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    ReapFinished();
    finished.swap(finished_);  // joined below, outside the lock (they have ended)
    if (followers_.contains(replica) || !seen_.insert(replica).second) return;
    auto done = std::make_shared<std::atomic<bool>>(false);
    docker::LogsOptions options{
        .follow = true,
        .since_unix =
            std::chrono::duration_cast<std::chrono::seconds>(since.time_since_epoch()).count(),
        .timestamps = true};
    if (tail > 0) options.tail = tail;
    std::jthread thread([this, ns, name, generation, replica, options, done](std::stop_token stop) {
      auto s = docker_.Logs(
          replica, options,
          [&](docker::Stream stream, std::string_view line) {
            auto parsed = ParseEngineLogLine(line);
            if (!parsed) return true;
            std::string call_id = ShimCallId(parsed->text);
            store_.Append(ns, name,
                          LogEntry{.time = parsed->time,
                                   .stream = FromDocker(stream),
                                   .text = std::move(parsed->text),
                                   .replica = replica,
                                   .call_id = std::move(call_id),
                                   .generation = generation});
            return true;
          },
          std::move(stop));
      if (!s && s.error().code() != core::ErrorCode::kCancelled &&
          s.error().code() != core::ErrorCode::kNotFound) {
        core::Log(core::LogLevel::kWarn, "logs of replica {} of {}/{}: {}", ShortReplica(replica),
                  ns, name, s.error().message());
      }
      done->store(true);
    });
    followers_.emplace(replica, Follower{std::move(thread), std::move(done)});
  }
}

void LogFollowers::OnEvent(const pool::PoolEvent& event) {
  switch (event.kind) {
    case pool::PoolEvent::Kind::kReplicaStarting:
      Follow(event.namespace_name, event.name, event.generation, event.replica);
      break;
    case pool::PoolEvent::Kind::kReplicaDied:
      for (const auto& line : event.last_lines) {
        store_.Append(event.namespace_name, event.name,
                      LogEntry{.time = line.time,
                               .stream = FromDocker(line.stream),
                               .text = line.text,
                               .replica = event.replica,
                               .call_id = ShimCallId(line.text),
                               .generation = event.generation});
      }
      break;
    default:
      // kReplicaRemoved: the follower ends with the container's log (it stops or goes),
      // so the last lines a draining replica writes are kept.
      break;
  }
}

void LogFollowers::FollowAll(const std::vector<pool::FunctionStatus>& functions, int64_t tail) {
  {
    std::set<std::string> listed;
    for (const auto& f : functions) {
      for (const auto& r : f.replicas) listed.insert(r.id);
    }
    std::lock_guard lock(mu_);
    // A replica no longer listed is gone: it will not be listed again (ids are unique).
    std::erase_if(seen_, [&](const std::string& id) {
      return !listed.contains(id) && !followers_.contains(id);
    });
  }
  for (const auto& f : functions) {
    for (const auto& r : f.replicas) {
      // From the container's first line (not r.started, which may be later than it): a
      // replica found by a resync may have written its traceback in its first millisecond.
      Follow(f.namespace_name, f.name, r.generation, r.id, {}, tail);
    }
  }
}

std::jthread LogFollowers::ResyncEvery(std::chrono::milliseconds interval,
                                       std::function<std::vector<pool::FunctionStatus>()> list,
                                       int64_t tail) {
  return std::jthread([this, interval, list = std::move(list), tail](const std::stop_token& stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      FollowAll(list(), tail);
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

std::size_t LogFollowers::following() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, f] : followers_) n += f.done->load() ? 0U : 1U;
  return n;
}

}  // namespace gantry::logstore
