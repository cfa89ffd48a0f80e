// gantry-bench-watchdog: a stand-in for OpenFaaS's classic watchdog (no OpenFaaS image can
// be pulled here), the baseline bench/shim compares the shim's exec mode with. It does per
// request what classic-watchdog's pipeRequest does, with the mechanisms Go uses on Linux:
//   - HTTP/1.1 with keep-alive, one thread per connection (net/http: a goroutine per
//     connection); the whole body is read before the process starts (ioutil.ReadAll);
//   - the command is looked up on PATH for every request (exec.Command calls LookPath: a
//     stat per PATH entry until an executable is found);
//   - the environment is the watchdog's own plus Http_<Header> per request header,
//     Http_Method, Http_ContentLength, Http_Content_Length, Http_Path, Http_Query, Http_Host
//     (getAdditionalEnvs with cgi_headers on, the default);
//   - stdin, stdout and stderr are pipes made with pipe2(O_CLOEXEC) (os.Pipe), and the
//     process is started with clone(CLONE_VM|CLONE_VFORK) -- Go's forkExec on amd64/arm64
//     since Go 1.9 (rawVforkSyscall); glibc's posix_spawn is that same clone, so it is used
//     here, with dup2 of the three pipes as the only file actions (Go closes nothing else in
//     the child either: everything of its own is close-on-exec);
//   - the body is written to stdin and stdin closed, stdout is read whole into a buffer and
//     stderr into another, all three at once (the watchdog's goroutines over Go's netpoller;
//     here one poll() loop in the connection's thread, which spares the goroutine hand-offs:
//     if anything, kinder to the baseline than the real thing);
//   - the process is waited for (cmd.Wait: wait4), then 200 with the output and
//     X-Duration-Seconds, or 500 with "exit status N" and the output;
//   - the watchdog logs "Forking fprocess." and "Wrote N Bytes - Duration: Fs" per request
//     (and "stderr: ..." when the process wrote any) to its stderr; so does this.
// Not copied from it: no timeouts, no lock file, no metrics, no max_inflight limit (the
// watchdog's defaults have none of them on the request path either).
// Static, to run inside the function's container next to the shim.
//   gantry-bench-watchdog SOCKET_PATH -- command args...
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace {

constexpr std::size_t kMaxHead = std::size_t{64} * 1024;
constexpr std::size_t kMaxBody = std::size_t{64} * 1024 * 1024;

std::vector<std::string> g_command;  // set once in main, read-only after

// Go's log.Printf: "2006/01/02 15:04:05 message\n", one write.
void Log(const std::string& message) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S ", &tm);
  std::string line = stamp + message + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

// exec.LookPath: names with a '/' as they are, else the first PATH entry holding an
// executable regular file of that name.
std::optional<std::string> LookPath(const std::string& name) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view path = path_env ? path_env : "";
  std::size_t start = 0;
  while (start <= path.size()) {
    auto colon = path.find(':', start);
    std::string dir(path.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return std::nullopt;
}

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;
};

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// net/http's canonical header key: "content-type" -> "Content-Type".
std::string CanonicalKey(std::string_view key) {
  std::string out(key);
  bool upper = true;
  for (char& ch : out) {
    ch = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(ch))
                                 : std::tolower(static_cast<unsigned char>(ch)));
    upper = ch == '-';
  }
  return out;
}

// Reads one request from `fd`, `buffer` holding what was read past the previous one.
// False when the connection ends or sends something this server does not take.
bool ReadRequest(int fd, std::string& buffer, Request& request) {
  std::size_t head_end;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > kMaxHead) return false;
    char chunk[16384];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  std::string_view head(buffer.data(), head_end);
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  request = Request{};
  request.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  request.keep_alive = line.substr(sp2 + 1) == "HTTP/1.1";
  std::size_t content_length = 0;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    auto colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = field.substr(0, colon);
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (EqualsNoCase(name, "Content-Length")) {
      content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      if (content_length > kMaxBody) return false;
    } else if (EqualsNoCase(name, "Transfer-Encoding")) {
      return false;  // the bench sends Content-Length bodies only
    } else if (EqualsNoCase(name, "Connection")) {
      if (EqualsNoCase(value, "close")) request.keep_alive = false;
      if (EqualsNoCase(value, "keep-alive")) request.keep_alive = true;
    }
    request.headers.emplace_back(CanonicalKey(name), std::string(value));
  }
  buffer.erase(0, head_end + 4);
  while (buffer.size() < content_length) {
    std::size_t have = buffer.size();
    buffer.resize(content_length);
    ssize_t n = ::read(fd, buffer.data() + have, content_length - have);
    if (n <= 0) return false;
    buffer.resize(have + static_cast<std::size_t>(n));
  }
  request.body = buffer.substr(0, content_length);
  buffer.erase(0, content_length);
  return true;
}

std::vector<std::string> Environment(const Request& request) {
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) env.emplace_back(*var);
  std::string host;
  for (const auto& [name, value] : request.headers) {
    if (name == "Host") {
      host = value;  // net/http moves Host out of the header map
      continue;
    }
    std::string key = name;
    for (char& ch : key) {
      if (ch == '-') ch = '_';
    }
    env.push_back("Http_" + key + "=" + value);
  }
  env.push_back("Http_Method=" + request.method);
  env.push_back("Http_ContentLength=" + std::to_string(request.body.size()));
  env.push_back("Http_Content_Length=" + std::to_string(request.body.size()));
  if (!request.query.empty()) env.push_back("Http_Query=" + request.query);
  if (!request.path.empty()) env.push_back("Http_Path=" + request.path);
  if (!host.empty()) env.push_back("Http_Host=" + host);
  return env;
}

struct Outcome {
  bool started = false;
  int status = 0;
  std::string out;
  std::string err;
  std::string error;
};

// Reads what `fd` has into `into`, straight into its tail. False at end of file.
bool Drain(int fd, std::string& into) {
  std::size_t have = into.size();
  into.resize(have + 32768);
  ssize_t n = ::read(fd, into.data() + have, 32768);
  into.resize(have + static_cast<std::size_t>(n > 0 ? n : 0));
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

Outcome Run(const Request& request) {
  Outcome outcome;
  auto program = LookPath(g_command.front());
  if (!program) {
    outcome.error = "exec: \"" + g_command.front() + "\": executable file not found in $PATH";
    return outcome;
  }
  std::vector<std::string> env = Environment(request);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return outcome;
  if (::pipe2(out, O_CLOEXEC) != 0) return outcome;
  if (::pipe2(err, O_CLOEXEC) != 0) return outcome;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<char*> argv;
  argv.push_back(program->data());
  for (std::size_t i = 1; i < g_command.size(); ++i) argv.push_back(g_command[i].data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    outcome.error = std::string("fork/exec: ") + std::strerror(rc);
    return outcome;
  }
  outcome.started = true;
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  int stdin_fd = in[1];
  if (request.body.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  }
  int stdout_fd = out[0];
  int stderr_fd = err[0];
  while (stdin_fd >= 0 || stdout_fd >= 0 || stderr_fd >= 0) {
    pollfd fds[3] = {{stdin_fd, POLLOUT, 0}, {stdout_fd, POLLIN, 0}, {stderr_fd, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (stdin_fd >= 0 && fds[0].revents != 0) {
      ssize_t n = ::write(stdin_fd, request.body.data() + written, request.body.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == request.body.size()) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
    if (stdout_fd >= 0 && fds[1].revents != 0 && !Drain(stdout_fd, outcome.out)) {
      ::close(stdout_fd);
      stdout_fd = -1;
    }
    if (stderr_fd >= 0 && fds[2].revents != 0 && !Drain(stderr_fd, outcome.err)) {
      ::close(stderr_fd);
      stderr_fd = -1;
    }
  }
  for (int fd : {stdin_fd, stdout_fd, stderr_fd}) {
    if (fd >= 0) ::close(fd);
  }
  while (::waitpid(pid, &outcome.status, 0) < 0 && errno == EINTR) {
  }
  return outcome;
}

// net/http's Date header: "Mon, 02 Jan 2006 15:04:05 GMT".
std::string HttpDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return date;
}

bool WriteAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void Serve(int fd) {
  std::string buffer;
  Request request;
  while (ReadRequest(fd, buffer, request)) {
    auto start = std::chrono::steady_clock::now();
    Log("Forking fprocess.");
    Outcome outcome = Run(request);
    double duration =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!outcome.err.empty()) Log("stderr: " + outcome.err);
    bool ok = outcome.started && WIFEXITED(outcome.status) && WEXITSTATUS(outcome.status) == 0;
    std::string body;
    std::string head;
    if (ok) {
      body = std::move(outcome.out);
      char extra[64];
      std::snprintf(extra, sizeof extra, "X-Duration-Seconds: %f\r\n", duration);
      head = "HTTP/1.1 200 OK\r\n" + std::string(extra);
      Log("Wrote " + std::to_string(body.size()) +
          " Bytes - Duration: " + std::to_string(duration) + "s");
    } else {
      std::string why = !outcome.started ? outcome.error
                        : WIFEXITED(outcome.status)
                            ? "exit status " + std::to_string(WEXITSTATUS(outcome.status))
                            : "signal: " + std::to_string(WTERMSIG(outcome.status));
      body = why + "\n" + outcome.out;
      head = "HTTP/1.1 500 Internal Server Error\r\n";
    }
    head += "Content-Type: text/plain; charset=utf-8\r\nDate: " + HttpDate() +
            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!request.keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    // net/http's bufio.Writer sends head and a small body in one write.
    if (!WriteAll(fd, head + body) || !request.keep_alive) break;
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || std::string(argv[2]) != "--") {
    std::fprintf(stderr, "usage: gantry-bench-watchdog SOCKET_PATH -- command args...\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  g_command.assign(argv + 3, argv + argc);
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = argv[1];
  if (path.size() >= sizeof address.sun_path) return 2;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (listener < 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 512) != 0) {
    std::perror("gantry-bench-watchdog: listen");
    return 1;
  }
  ::chmod(path.c_str(), 0777);
  Log("Listening on " + path);
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      return 1;
    }
    std::thread(Serve, fd).detach();
  }
}
