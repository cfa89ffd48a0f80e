#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "output_lines.h"

namespace gantry::shim {

// A started child process and the shim's ends of its pipes (-1 where not piped).
struct SpawnedChild {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program: an absolute path
  std::vector<std::string> env;   // "NAME=value"
  bool pipe_stdin = false;        // otherwise /dev/null
  // The child leads its own process group, so a timeout kills what it started too.
  bool own_process_group = true;
};

// Starts a process with posix_spawn (no fork of the shim's address space) and pipes for
// stdout and stderr (and stdin if asked). Returns the child, or the errno on failure
// (ENOENT, EACCES, ...). The shim's ends are close-on-exec and non-blocking.
std::optional<SpawnedChild> Spawn(const SpawnOptions& options, int& error);

// Resolves a command name against PATH ("cat" -> "/usr/bin/cat"); names with a '/' are
// checked as they are. Returns the path of an executable file, or nothing.
std::optional<std::string> FindExecutable(const std::string& name, const std::string& path_env);

// The shim's environment as "NAME=value" strings, to extend for a child.
std::vector<std::string> CurrentEnvironment();

// "exit status 3", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

// Reaps every child of the shim on SIGCHLD, including orphans re-parented to it as PID 1,
// and tells whoever watches a pid how it ended. Children may also be started off the io
// thread with SpawnTracked: one that exits before its Watch is registered keeps its
// status until then (the spawn and the reaping exclude each other, so no exit is lost or
// mistaken for an orphan's). Watch and the reaping run on the io thread; SpawnTracked is
// thread-safe.
class ProcessReaper {
 public:
  using ExitFn = std::function<void(int wait_status)>;

  explicit ProcessReaper(boost::asio::io_context& io);

  // Spawn, from any thread; the caller must Watch the pid (on the io thread) afterwards.
  std::optional<SpawnedChild> SpawnTracked(const SpawnOptions& options, int& error);
  // Calls `fn` on the io thread once `pid` has exited.
  void Watch(pid_t pid, ExitFn fn);
  std::size_t watched() const { return watched_.size(); }

 private:
  void Arm();
  void ReapAll();

  boost::asio::signal_set sigchld_;
  std::map<pid_t, ExitFn> watched_;   // io thread only
  std::map<pid_t, int> early_exits_;  // io thread only: tracked, exited before Watch
  std::shared_mutex spawning_;        // shared by spawns, exclusive while reaping
  std::mutex tracked_mutex_;
  std::set<pid_t> tracked_;  // GUARDED_BY(tracked_mutex_): spawned, not yet watched
};

// Reads a child's stdout or stderr, cuts it into lines and logs each line with the id of
// the call it belongs to (asked of `call_id` at the moment the line completes). Optionally
// passes the raw bytes to `tap` too (the stderr tail of an exec call). Calls `on_eof` once
// when the pipe closes. Not thread-safe; lives on one io_context; keeps itself alive
// while reading.
class OutputPump : public std::enable_shared_from_this<OutputPump> {
 public:
  OutputPump(boost::asio::io_context& io, int fd, std::string stream,
             std::function<std::string()> call_id, std::function<void(std::string_view)> tap,
             std::function<void()> on_eof);

  void Start();

 private:
  void ReadSome();

  boost::asio::posix::stream_descriptor pipe_;
  std::string stream_;
  std::function<std::string()> call_id_;
  std::function<void(std::string_view)> tap_;
  std::function<void()> on_eof_;
  LineSplitter lines_;
  char buffer_[8192];
};

}  // namespace gantry::shim
