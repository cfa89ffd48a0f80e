#include "daemon/map_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/base64.h"
#include "core/log.h"
#include "daemon/api_support.h"
#include "gateway/invoke_path.h"

namespace gantry::daemon {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

// One map call's state, shared by its workers, its replica sampler and its stream.
struct MapJob {
  MapOptions options;
  http::Sender send;
  ReplicaCountFn replicas;
  std::string ns, name, url;
  std::vector<std::string> inputs;
  int concurrency = 1;
  steady_clock::time_point started = steady_clock::now();
  // The running-jobs count of the MapApi, given back when the last worker ends.
  std::shared_ptr<std::atomic<int>> jobs;
  std::atomic<int> workers_left{0};

  std::atomic<std::size_t> next_input{0};
  std::atomic<bool> cancelled{false};
  std::atomic<int> replicas_peak{0};

  std::mutex mu;
  std::vector<std::optional<std::string>> lines;      // guarded by mu: each input's result line
  std::size_t emitted = 0;                            // guarded by mu
  gateway::BodyStream::ChunkFn waiting;               // guarded by mu: a Next() not answered yet
  int64_t ok = 0, failed = 0, retried = 0, cold = 0;  // guarded by mu
  bool done = false;                                  // guarded by mu: the summary is out

  // Takes what can go out now (under mu): the ready lines in order, and the summary after
  // the last. Returns the callback to call with it (empty: nothing to send yet).
  gateway::BodyStream::ChunkFn TakeReady(std::string& chunk, bool& finished) {
    if (!waiting || done) return {};
    while (emitted < lines.size() && lines[emitted]) {
      chunk += *lines[emitted];
      lines[emitted].reset();  // sent: its memory goes
      ++emitted;
    }
    finished = emitted == lines.size();
    if (finished) {
      const double wall_ms =
          std::chrono::duration<double, std::milli>(steady_clock::now() - started).count();
      chunk +=
          DumpJson({{"summary",
                     {{"inputs", lines.size()},
                      {"ok", ok},
                      {"failed", failed},
                      {"retried", retried},
                      {"wallMs", wall_ms},
                      {"callsPerSecond",
                       wall_ms > 0 ? static_cast<double>(lines.size()) * 1000.0 / wall_ms : 0.0},
                      {"replicasPeak", replicas_peak.load()},
                      {"coldStarts", cold},
                      {"concurrency", concurrency}}}}) +
          "\n";
      done = true;
    }
    if (chunk.empty() && !finished) return {};
    return std::exchange(waiting, {});
  }

  void Run(std::size_t i) {
    const auto t0 = steady_clock::now();
    http::Response r;
    int attempts = 0;
    auto backoff = options.first_backoff;
    while (true) {
      ++attempts;
      r = send({.method = "POST",
                .url = url,
                .headers = {"Content-Type: application/json"},
                .body = inputs[i],
                .timeout = options.call_timeout});
      const bool busy = r.status == 429 || r.status == 503;
      if (!busy || attempts >= options.max_attempts || cancelled.load()) break;
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
    json line = {{"index", i},
                 {"attempts", attempts},
                 {"durationMs",
                  std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count()}};
    const bool succeeded = r.status >= 200 && r.status < 400;
    if (r.status == 0) {
      line["status"] = 0;
      line["error"] = r.error;
    } else {
      line["status"] = r.status;
      json body = json::parse(r.body, nullptr, false);
      if (!body.is_discarded()) {
        line["body"] = std::move(body);
      } else if (ValidUtf8(r.body)) {
        line["body"] = r.body;
      } else {
        line["body"] = core::Base64Encode(r.body);
        line["bodyEncoding"] = "base64";
      }
    }
    std::string start = "warm";
    if (auto h = r.headers.find("x-gantry-start"); h != r.headers.end()) start = h->second;
    line["start"] = start;
    std::string chunk;
    bool finished = false;
    gateway::BodyStream::ChunkFn deliver;
    {
      std::lock_guard lock(mu);
      (succeeded ? ok : failed) += 1;
      if (attempts > 1) ++retried;
      if (start != "warm") ++cold;
      lines[i] = DumpJson(line) + "\n";
      deliver = TakeReady(chunk, finished);
    }
    if (deliver) deliver(std::move(chunk), finished);
  }

  void Work() {
    while (!cancelled.load()) {
      const std::size_t i = next_input.fetch_add(1);
      if (i >= inputs.size()) break;
      Run(i);
    }
    if (workers_left.fetch_sub(1) == 1) jobs->fetch_sub(1);
  }

  void Sample() {
    while (!cancelled.load()) {
      {
        std::lock_guard lock(mu);
        if (done || emitted == lines.size()) return;
      }
      int now = replicas(ns, name);
      int peak = replicas_peak.load();
      while (now > peak && !replicas_peak.compare_exchange_weak(peak, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
};

class MapStream final : public gateway::BodyStream {
 public:
  explicit MapStream(std::shared_ptr<MapJob> job) : job_(std::move(job)) {}
  ~MapStream() override { job_->cancelled = true; }

  void Next(ChunkFn deliver) override {
    std::string chunk;
    bool finished = false;
    ChunkFn ready;
    {
      std::lock_guard lock(job_->mu);
      if (job_->done) {
        ready = std::move(deliver);
        finished = true;
      } else {
        job_->waiting = std::move(deliver);
        ready = job_->TakeReady(chunk, finished);
      }
    }
    if (ready) ready(std::move(chunk), finished);
  }

  void Cancel() override {
    job_->cancelled = true;
    std::lock_guard lock(job_->mu);
    job_->waiting = nullptr;
  }

 private:
  std::shared_ptr<MapJob> job_;
};

}  // namespace

core::Result<gateway::ApiResponse> MapApi::Map(const gateway::ApiRequest& r) {
  const std::string ns = PathParam(r, "ns");
  const std::string name = PathParam(r, "name");
  int concurrency = options_.default_concurrency;
  if (std::string c = QueryParam(r, "concurrency"); !c.empty()) {
    auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), concurrency);
    if (ec != std::errc() || end != c.data() + c.size() || concurrency < 1 ||
        concurrency > options_.max_concurrency) {
      return core::Error::InvalidArgument(
          fmt::format("concurrency must be a whole number from 1 to {}, not \"{}\"",
                      options_.max_concurrency, c));
    }
  }
  if (replicas_(ns, name) < 0) {
    return core::Error::NotFound(fmt::format("function {}.{} is not deployed", name, ns));
  }
  if (jobs_->fetch_add(1) >= options_.max_jobs) {
    jobs_->fetch_sub(1);
    return gateway::ApiResponse{
        .status = 429,
        .body = DumpJson({{"error", fmt::format("{} map calls are running already: try again later",
                                                options_.max_jobs)}}) +
                "\n"};
  }
  // Given back by the last worker, or here when no worker starts.
  struct Release {
    std::shared_ptr<std::atomic<int>> jobs;
    bool armed = true;
    ~Release() {
      if (armed) jobs->fetch_sub(1);
    }
  } release{jobs_};
  auto job = std::make_shared<MapJob>();
  std::size_t start = 0;
  while (start < r.body.size()) {
    std::size_t end = r.body.find('\n', start);
    if (end == std::string::npos) end = r.body.size();
    std::string_view line(r.body.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) job->inputs.emplace_back(line);
    if (job->inputs.size() > options_.max_inputs) {
      return gateway::ApiResponse{
          .status = 413,
          .body = DumpJson({{"error", fmt::format("more than {} inputs", options_.max_inputs)}}) +
                  "\n"};
    }
    start = end + 1;
  }
  job->options = options_;
  job->send = send_;
  job->replicas = replicas_;
  job->ns = ns;
  job->name = name;
  job->url = fmt::format("{}{}{}.{}", gateway_url_, gateway::kInvokePrefix, name, ns);
  job->lines.resize(job->inputs.size());
  job->concurrency = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(concurrency), std::max<std::size_t>(job->inputs.size(), 1)));
  core::Log(core::LogLevel::kInfo, "map {}/{}: {} inputs, {} at a time", ns, name,
            job->inputs.size(), job->concurrency);
  if (!job->inputs.empty()) {
    job->jobs = jobs_;
    job->workers_left = job->concurrency;
    release.armed = false;
    for (int i = 0; i < job->concurrency; ++i) std::thread([job] { job->Work(); }).detach();
  }
  std::thread([job] { job->Sample(); }).detach();
  gateway::ApiResponse response{.status = 200, .content_type = "application/x-ndjson"};
  response.stream = std::make_shared<MapStream>(job);
  return response;
}

gateway::Route MapApi::Route() {
  return {"POST", "/apis/gantry/v1/namespaces/{ns}/functions/{name}/map",
          [this](const gateway::ApiRequest& r) { return Map(r); }};
}

}  // namespace gantry::daemon
