// gantry-bench-shim-spawn-floor: the floor for the shim's exec mode -- what a bare loop of
// posix_spawn + pipes costs with no HTTP in between: start the command, write the body to
// its stdin, read its stdout to the end, wait for it. `-c` threads do this side by side.
// Static, to run inside the function container. Prints one FormatResult line.
//   gantry-bench-shim-spawn-floor [-c N] [-n N] [-t SECONDS] [--body TEXT] -- command args...
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/shim_load.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// One spawn: true when the command ran and exited 0.
bool SpawnOnce(std::vector<char*>& argv, const std::string& body) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    return false;
  }
  // Bodies are small (well under a pipe buffer): write all, then read all.
  ssize_t written = ::write(in[1], body.data(), body.size());
  ::close(in[1]);
  char buffer[16384];
  std::size_t got = 0;
  for (;;) {
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return written == static_cast<ssize_t>(body.size()) && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0 && got == body.size();
}

}  // namespace

int main(int argc, char** argv) {
  int concurrency = 1;
  long long requests = 1000;
  double seconds = 10;
  std::string body = "hello";
  int i = 1;
  for (; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc) break;
    if (flag == "-c") {
      concurrency = std::atoi(argv[i + 1]);
    } else if (flag == "-n") {
      requests = std::atoll(argv[i + 1]);
    } else if (flag == "-t") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--body") {
      body = argv[i + 1];
    }
  }
  if (i >= argc) {
    std::fprintf(
        stderr,
        "usage: gantry-bench-shim-spawn-floor [-c N] [-n N] [-t S] [--body B] -- command...\n");
    return 2;
  }
  std::vector<char*> command(argv + i, argv + argc);
  command.push_back(nullptr);

  std::atomic<long long> issued{0};
  std::mutex mutex;
  std::vector<double> latencies;
  gantry::bench::LoadResult result;
  auto start = Clock::now();
  auto deadline = start + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(concurrency));
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      std::vector<char*> my_argv = command;
      std::vector<double> mine;
      long long failed = 0;
      while (issued.fetch_add(1) < requests && Clock::now() < deadline) {
        auto t0 = Clock::now();
        if (SpawnOnce(my_argv, body)) {
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else {
          ++failed;
        }
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      result.failed += failed;
    });
  }
  for (auto& thread : threads) thread.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.ok = static_cast<int64_t>(latencies.size());
  result.rps = static_cast<double>(result.ok) / result.seconds;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double p) {
    if (latencies.empty()) return 0.0;
    auto index = std::lround(p * static_cast<double>(latencies.size() - 1));
    return latencies[static_cast<std::size_t>(index)];
  };
  result.p50_ms = at(0.50);
  result.p99_ms = at(0.99);
  std::printf("%s\n", gantry::bench::FormatResult(result).c_str());
  return result.ok > 0 ? 0 : 1;
}
