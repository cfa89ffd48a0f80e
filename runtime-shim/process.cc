#include "process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "log.h"

extern char** environ;

namespace gantry::shim {

namespace {

constexpr std::size_t kMaxLogLine = std::size_t{16} * 1024;

void CloseIf(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// posix_spawn's C interface, made exception-free and leak-free.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

}  // namespace

std::optional<SpawnedChild> Spawn(const SpawnOptions& options, int& error) {
  error = 0;
  if (options.argv.empty()) {
    error = EINVAL;
    return std::nullopt;
  }
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in_pipe, out_pipe, err_pipe}) {
      CloseIf(p[0]);
      CloseIf(p[1]);
    }
  };
  if ((options.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
      ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    error = errno;
    close_all();
    return std::nullopt;
  }

  SpawnSetup setup;
  if (options.pipe_stdin) {
    posix_spawn_file_actions_adddup2(&setup.actions_, in_pipe[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&setup.actions_, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions_, err_pipe[1], STDERR_FILENO);
  // Nothing else of the shim's reaches the function: not its listening socket, not a
  // client's connection (a child holding one would keep that client waiting after the
  // shim is gone), not another call's pipes.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions_, STDERR_FILENO + 1);

  // The shim ignores SIGPIPE and handles TERM/INT/CHLD; the function gets the defaults back
  // and an empty signal mask.
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.own_process_group) {
    flags = static_cast<short>(flags | POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&setup.attr_, 0);
  }
  posix_spawnattr_setflags(&setup.attr_, flags);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&setup.attr_, &defaults);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&setup.attr_, &empty);

  std::vector<char*> argv;
  for (const auto& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& var : options.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &setup.actions_, &setup.attr_, argv.data(), envp.data());
  if (rc != 0) {
    error = rc;
    close_all();
    return std::nullopt;
  }
  SpawnedChild child;
  child.pid = pid;
  CloseIf(in_pipe[0]);
  CloseIf(out_pipe[1]);
  CloseIf(err_pipe[1]);
  child.stdin_fd = in_pipe[1];
  child.stdout_fd = out_pipe[0];
  child.stderr_fd = err_pipe[0];
  return child;
}

std::optional<std::string> FindExecutable(const std::string& name, const std::string& path_env) {
  auto usable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (!usable(name)) return std::nullopt;
    if (name.front() == '/') return name;
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return name;
    return std::string(cwd) + "/" + name;
  }
  std::size_t start = 0;
  while (start <= path_env.size()) {
    auto colon = path_env.find(':', start);
    std::string dir =
        path_env.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = std::move(dir);
    candidate += '/';
    candidate += name;
    if (usable(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return std::nullopt;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** var = environ; var != nullptr && *var != nullptr; ++var) env.emplace_back(*var);
  return env;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "wait status " + std::to_string(wait_status);
}

ProcessReaper::ProcessReaper(boost::asio::io_context& io) : sigchld_(io, SIGCHLD) {
  Arm();
}

std::optional<SpawnedChild> ProcessReaper::SpawnTracked(const SpawnOptions& options, int& error) {
  std::shared_lock spawning(spawning_);
  auto child = Spawn(options, error);
  if (child) {
    std::lock_guard lock(tracked_mutex_);
    tracked_.insert(child->pid);
  }
  return child;
}

void ProcessReaper::Watch(pid_t pid, ExitFn fn) {
  {
    std::lock_guard lock(tracked_mutex_);
    tracked_.erase(pid);
  }
  auto early = early_exits_.find(pid);
  if (early != early_exits_.end()) {
    int status = early->second;
    early_exits_.erase(early);
    boost::asio::post(sigchld_.get_executor(), [fn = std::move(fn), status] { fn(status); });
    return;
  }
  watched_[pid] = std::move(fn);
}

void ProcessReaper::Arm() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    ReapAll();
    Arm();
  });
}

void ProcessReaper::ReapAll() {
  // No spawn may be between posix_spawn and tracking its pid while we reap.
  std::unique_lock spawning(spawning_);
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // none left to reap now (0), or no children at all (-1)
    auto it = watched_.find(pid);
    if (it == watched_.end()) {
      std::lock_guard lock(tracked_mutex_);
      if (tracked_.count(pid) != 0) early_exits_[pid] = status;
      continue;  // otherwise an orphan re-parented to PID 1: just reaped
    }
    ExitFn fn = std::move(it->second);
    watched_.erase(it);
    fn(status);
  }
}

OutputPump::OutputPump(boost::asio::io_context& io, int fd, std::string stream,
                       std::function<std::string()> call_id,
                       std::function<void(std::string_view)> tap, std::function<void()> on_eof)
    : pipe_(io, fd),
      stream_(std::move(stream)),
      call_id_(std::move(call_id)),
      tap_(std::move(tap)),
      on_eof_(std::move(on_eof)),
      lines_(kMaxLogLine, [this](std::string_view line) {
        LogFunctionLine(call_id_ ? call_id_() : std::string(), stream_, line);
      }) {}

void OutputPump::Start() {
  ReadSome();
}

void OutputPump::ReadSome() {
  pipe_.async_read_some(
      boost::asio::buffer(buffer_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (n > 0) {
          std::string_view bytes(self->buffer_, n);
          if (self->tap_) self->tap_(bytes);
          self->lines_.Feed(bytes);
        }
        if (ec) {
          self->lines_.Flush();
          boost::system::error_code ignored;
          self->pipe_.close(ignored);
          if (self->on_eof_) {
            auto on_eof = std::move(self->on_eof_);
            self->on_eof_ = nullptr;
            on_eof();
          }
          return;
        }
        self->ReadSome();
      });
}

}  // namespace gantry::shim
