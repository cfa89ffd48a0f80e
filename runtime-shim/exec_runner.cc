#include "exec_runner.h"

#include <sys/wait.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "log.h"
#include "output_lines.h"

namespace gantry::shim {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kStderrTail = 4096;
constexpr std::size_t kSpawnThreads = 4;
// Output up to this size is answered whole, so a failure after it still gets a 500 with
// the stderr tail; beyond it the response is streamed (chunked) as it comes, one read
// buffer in flight at a time, so stdout of any size costs the shim bounded memory.
constexpr std::size_t kBufferUpTo = std::size_t{64} * 1024;

// Everything one exec call is waiting for: stdout to close, stderr to close, the exit.
struct ExecRun {
  ExecRun(asio::io_context& io, int stdin_fd, int stdout_fd)
      : stdin_pipe(io, stdin_fd), stdout_pipe(io, stdout_fd), tail(kStderrTail) {}

  std::shared_ptr<Call> call;
  pid_t pid = -1;
  asio::posix::stream_descriptor stdin_pipe;
  asio::posix::stream_descriptor stdout_pipe;
  std::string output;                      // buffered stdout, until it is streamed
  std::shared_ptr<ResponseStream> stream;  // once streaming
  bool discard = false;  // nobody wants stdout any more (answered, client gone): drain it
  TailBuffer tail;
  char buffer[16384];
  int pending = 3;
  int wait_status = 0;
  std::string content_type;
};

std::string DescribeFailure(int status) {
  // A function process that gets SIGKILL the shim did not send (the shim answers a timeout
  // before it kills) was almost always the kernel's OOM killer.
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    return "function process was killed (out of memory?): " + DescribeWaitStatus(status);
  }
  return "function failed: " + DescribeWaitStatus(status);
}

void Complete(const std::shared_ptr<ExecRun>& run) {
  if (--run->pending > 0) return;
  int status = run->wait_status;
  bool success = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (run->stream) {
    // The head (200) is out: a failure can only cut the body off, which the caller sees as
    // a response that ends without its last chunk.
    if (!success) {
      LogShim("call " + run->call->id() +
              ": streamed response cut off: " + DescribeFailure(status));
    }
    run->stream->End(success);
    run->stream.reset();
    return;
  }
  if (success) {
    FunctionReply reply;
    reply.headers.emplace_back("Content-Type", run->content_type);
    reply.body = std::move(run->output);
    run->call->Finish(reply);
    return;
  }
  FunctionReply reply;
  reply.status = 500;
  reply.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  reply.body = DescribeFailure(status) + "\n" + run->tail.Text();
  if (!reply.body.empty() && reply.body.back() != '\n') reply.body += '\n';
  run->call->Finish(reply);
}

void ReadStdout(const std::shared_ptr<ExecRun>& run);

// Stops caring about stdout: the function's process group is killed (the caller is gone or
// was answered) and what is left in the pipe is read and dropped until it closes.
void DiscardStdout(const std::shared_ptr<ExecRun>& run) {
  if (!run->discard) {
    run->discard = true;
    if (run->pid > 0) ::kill(-run->pid, SIGKILL);
  }
  run->output.clear();
  run->output.shrink_to_fit();
}

// Passes what stdout produced on to the caller: buffered while small, then streamed with
// one write in flight (the next read waits for it, so a fast writer is slowed to the
// caller's pace instead of filling memory).
void Forward(const std::shared_ptr<ExecRun>& run) {
  if (run->discard) {
    run->output.clear();
    ReadStdout(run);
    return;
  }
  if (!run->stream) {
    if (run->output.size() <= kBufferUpTo) {
      ReadStdout(run);
      return;
    }
    if (run->call->finished()) {  // answered already (timed out): nobody reads this
      DiscardStdout(run);
      ReadStdout(run);
      return;
    }
    boost::beast::http::response_header<> head;
    head.result(boost::beast::http::status::ok);
    head.set(boost::beast::http::field::content_type, run->content_type);
    run->stream = run->call->StartStream(std::move(head));
    if (!run->stream) {
      DiscardStdout(run);
      ReadStdout(run);
      return;
    }
  }
  std::string bytes = std::move(run->output);
  run->output.clear();
  run->stream->Write(std::move(bytes), [run](bool ok) {
    if (!ok) DiscardStdout(run);
    ReadStdout(run);
  });
}

void ReadStdout(const std::shared_ptr<ExecRun>& run) {
  run->stdout_pipe.async_read_some(asio::buffer(run->buffer),
                                   [run](const boost::system::error_code& ec, std::size_t n) {
                                     if (!run->discard) run->output.append(run->buffer, n);
                                     if (ec) {
                                       boost::system::error_code ignored;
                                       run->stdout_pipe.close(ignored);
                                       if (run->stream && !run->output.empty() && !run->discard) {
                                         // The last bytes go out before the stream can end.
                                         std::string bytes = std::move(run->output);
                                         run->output.clear();
                                         run->stream->Write(std::move(bytes), [run](bool ok) {
                                           if (!ok) DiscardStdout(run);
                                           Complete(run);
                                         });
                                         return;
                                       }
                                       Complete(run);
                                       return;
                                     }
                                     Forward(run);
                                   });
}

}  // namespace

ExecRunner::ExecRunner(asio::io_context& io, const ShimConfig& config, ProcessReaper& reaper)
    : io_(io), config_(config), reaper_(reaper), spawner_(kSpawnThreads) {}

ExecRunner::~ExecRunner() {
  spawner_.stop();
  spawner_.join();
}

bool ExecRunner::Start(FatalFn, std::string& error) {
  base_env_ = CurrentEnvironment();
  if (config_.stem) return true;  // the command comes with the specialisation
  return ResolveCommand(error);
}

bool ExecRunner::ResolveCommand(std::string& error) {
  const char* path = std::getenv("PATH");
  auto program = FindExecutable(config_.command.front(), path ? path : "/usr/bin:/bin");
  if (!program) {
    error = "command not found or not executable: " + config_.command.front();
    return false;
  }
  argv_ = config_.command;
  argv_[0] = *program;
  return true;
}

void ExecRunner::Specialize(const Specialization& specialization, SpecializedFn done) {
  std::string error;
  bool ok = !config_.command.empty() && ResolveCommand(error);
  if (ok) {
    base_env_ = OverlayEnvironment(CurrentEnvironment(), specialization.env, {kStemVariable});
  } else if (error.empty()) {
    error = "no function command";
  }
  // Told on the io loop, never from inside the caller.
  asio::post(io_, [done = std::move(done), ok, error] { done(ok, error); });
}

void ExecRunner::Invoke(const std::shared_ptr<Call>& call) {
  if (stopped_) {
    call->Finish(ErrorReply(503, "shim is stopping", call->id()));
    return;
  }
  if (argv_.empty()) {
    call->Finish(ErrorReply(503, "not specialised", call->id()));
    return;
  }
  SpawnOptions options;
  options.argv = argv_;
  options.env = base_env_;
  for (auto& var : CgiEnvironment(call->meta(), call->request().body().size())) {
    options.env.push_back(std::move(var));
  }
  options.pipe_stdin = true;
  int error = 0;
  if (children_.empty() && spawning_ == 0) {
    // Alone: started right here. posix_spawn is clone(CLONE_VM|CLONE_VFORK), so it holds the
    // io thread only while the child execs, and nothing else is waiting for it; the hop to a
    // helper thread and back costs a lone call more than that wait (two wake-ups).
    auto child = reaper_.SpawnTracked(options, error);
    Started(call, child, error);
    return;
  }
  // Others are running: the io thread must not wait for each exec in turn, so children
  // start side by side on the helper threads.
  ++spawning_;
  asio::post(spawner_, [this, call, options = std::move(options)] {
    int spawn_error = 0;
    auto child = reaper_.SpawnTracked(options, spawn_error);
    asio::post(io_, [this, call, child, spawn_error] {
      --spawning_;
      Started(call, child, spawn_error);
    });
  });
}

void ExecRunner::Started(const std::shared_ptr<Call>& call, std::optional<SpawnedChild> child,
                         int error) {
  if (!child) {
    LogShim("call " + call->id() + ": cannot start " + argv_[0] + ": " + std::strerror(error));
    call->Finish(
        ErrorReply(500, "cannot start function: " + std::string(std::strerror(error)), call->id()));
    return;
  }
  auto run = std::make_shared<ExecRun>(io_, child->stdin_fd, child->stdout_fd);
  run->call = call;
  run->pid = child->pid;
  run->content_type = config_.content_type;
  std::string id = call->id();
  children_[id] = child->pid;
  reaper_.Watch(child->pid, [this, run, id](int status) {
    children_.erase(id);
    run->pid = -1;  // reaped: the number may be reused
    run->wait_status = status;
    Complete(run);
  });
  // Abandoned (timed out) or stopped while it was starting: it goes at once.
  if (call->finished() || stopped_) ::kill(-child->pid, SIGKILL);

  auto err_pump = std::make_shared<OutputPump>(
      io_, child->stderr_fd, "stderr", [id] { return id; },
      [run](std::string_view bytes) { run->tail.Append(bytes); }, [run] { Complete(run); });
  err_pump->Start();
  ReadStdout(run);
  // The body goes in whole; a function that exits without reading it just closes the pipe.
  asio::async_write(run->stdin_pipe, asio::buffer(call->request().body()),
                    [run](const boost::system::error_code&, std::size_t) {
                      boost::system::error_code ignored;
                      run->stdin_pipe.close(ignored);
                    });
}

void ExecRunner::Abandon(const std::shared_ptr<Call>& call) {
  auto it = children_.find(call->id());
  if (it == children_.end()) return;
  // Its whole process group: whatever the function started dies with it, so the pipes close.
  ::kill(-it->second, SIGKILL);
}

void ExecRunner::Stop(int signal) {
  stopped_ = true;
  for (const auto& [id, pid] : children_) ::kill(-pid, signal);
}

}  // namespace gantry::shim
