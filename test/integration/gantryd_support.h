#pragma once

// gantryd as a child process of a test, and HTTP calls to it.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "builder/bundle.h"
#include "spec/function_spec.h"
#include "support/engine.h"

extern char** environ;

namespace gantry::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Reply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline size_t AppendHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n ") + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// gantryd as a child process of the test.
class Gantryd {
 public:
  // `test_label` false: no --label, so gantryd tells its objects apart by its instance id
  // alone (the test must then remove them itself: they don't carry the test's label).
  Gantryd(TestEngine& engine, fs::path state_dir, std::vector<std::string> extra_args = {},
          bool test_label = true)
      : engine_(engine),
        state_dir_(std::move(state_dir)),
        extra_args_(std::move(extra_args)),
        test_label_(test_label) {
    Start();
  }
  ~Gantryd() { Stop(SIGTERM); }

  void Start() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::vector<std::string> args = {GANTRYD_BINARY, "--listen",          "127.0.0.1:0",
                                     "--state-dir",  state_dir_.string(), "--log-level",
                                     "debug"};
    if (test_label_) args.insert(args.end(), {"--label", engine_.selector()});
    // Stem cells cost containers and a stem image build: only tests that ask pay for them.
    if (std::find(extra_args_.begin(), extra_args_.end(), "--stem-cells") == extra_args_.end()) {
      args.insert(args.end(), {"--stem-cells", "0"});
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    REQUIRE(posix_spawn(&pid_, GANTRYD_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        std::lock_guard lock(mu_);
        log_.append(buf, static_cast<size_t>(n));
      }
      ::close(fd);
    });
    std::regex listening("listening on 127\\.0\\.0\\.1:(\\d+)");
    for (auto until = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < until;) {
      {
        std::lock_guard lock(mu_);
        std::smatch m;
        if (std::regex_search(log_, m, listening)) {
          port_ = std::stoi(m[1]);
          break;
        }
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        FAIL("gantryd exited at start:\n" << Log());
      }
      std::this_thread::sleep_for(20ms);
    }
    if (port_ == 0) FAIL("gantryd did not start listening:\n" << Log());
    std::ifstream in(state_dir_ / "token");
    std::getline(in, token_);
  }

  // Ends gantryd with `sig` and waits for it; returns its exit status.
  int Stop(int sig) {
    if (pid_ == 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    if (reader_.joinable()) reader_.join();
    port_ = 0;
    return status;
  }

  // Sends `sig`, then sends it again every millisecond until gantryd has exited (a second
  // signal during shutdown); returns its exit status.
  int StopRepeatedly(int sig) {
    if (pid_ == 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    for (auto until = std::chrono::steady_clock::now() + 60s;
         std::chrono::steady_clock::now() < until;) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      ::kill(pid_, sig);
      std::this_thread::sleep_for(1ms);
    }
    if (::waitpid(pid_, &status, WNOHANG) == 0) {  // still running: end it, and say so
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      status = -2;
    }
    pid_ = 0;
    if (reader_.joinable()) reader_.join();
    port_ = 0;
    return status;
  }

  // The instance id gantryd keeps in its state directory ("" before its first start).
  std::string InstanceId() const {
    std::ifstream in(state_dir_ / "instance-id");
    std::string id;
    std::getline(in, id);
    return id;
  }

  std::string Log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  const std::string& token() const { return token_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             std::vector<std::string> headers = {}, bool auth = true) const {
    Reply r;
    CURL* h = curl_easy_init();
    std::string url = "http://127.0.0.1:" + std::to_string(port_) + path;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // the path goes out as written ("/../" too)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST" || method == "PUT") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    if (auth) headers.push_back("Authorization: Bearer " + token_);
    headers.push_back("Expect:");
    curl_slist* list = nullptr;
    for (const auto& hd : headers) list = curl_slist_append(list, hd.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, AppendHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return r;
  }

 private:
  TestEngine& engine_;
  fs::path state_dir_;
  std::vector<std::string> extra_args_;
  bool test_label_ = true;
  pid_t pid_ = 0;
  int port_ = 0;
  std::string token_;
  std::thread reader_;
  std::mutex mu_;
  std::string log_;
};

// The ids of the containers of `function` that carry the test's label.
inline std::set<std::string> ContainersOf(TestEngine& engine, const std::string& function) {
  auto list =
      engine.client().ListContainers({engine.selector(), "gantry.function=" + function}, true);
  REQUIRE(list.ok());
  std::set<std::string> ids;
  for (const auto& c : *list) ids.insert(c.id);
  return ids;
}

// The resource API path of a function.
inline std::string FunctionPath(const spec::FunctionSpec& s) {
  return "/apis/gantry/v1/namespaces/" + s.namespace_name() + "/functions/" + s.name();
}

// The bundle `gantry apply` would upload for `s`.
inline std::string Bundle(const spec::FunctionSpec& s) {
  auto b = builder::MakeBundle(s);
  REQUIRE(b.ok());
  return *b;
}

// Applies `s` through the resource API and requires that it was created or configured.
inline void Deploy(Gantryd& gantryd, const spec::FunctionSpec& s) {
  Reply r = gantryd.Call("PUT", FunctionPath(s), Bundle(s), {"Content-Type: application/x-tar"});
  INFO(r.body << "\n" << gantryd.Log());
  REQUIRE((r.status == 201 || r.status == 200));
}

// GET `path` until `done` says yes of its JSON, for up to `patience`; the last answer.
inline nlohmann::json PollJson(const Gantryd& g, const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& done,
                               std::chrono::seconds patience = 60s) {
  nlohmann::json j;
  for (auto until = std::chrono::steady_clock::now() + patience;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
    Reply r = g.Call("GET", path);
    j = r.Json();
    if (r.status == 200 && done(j)) break;
  }
  return j;
}

#ifdef GANTRY_BINARY
// `gantry ARGS` against `g` (stderr too); its output, the exit code in `code`.
inline std::string Cli(const Gantryd& g, const std::string& args, int& code) {
  std::string command = std::string(GANTRY_BINARY) + " --server " + g.url() + " --token " +
                        g.token() + " " + args + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}
#endif

// A state directory of its own for one test.
class StateDir {
 public:
  explicit StateDir(const TestEngine& engine)
      : path_(fs::temp_directory_path() / engine.Name("state")) {
    fs::create_directories(path_);
  }
  ~StateDir() {
    UnmountAllBelow(path_.string());  // replicas' socket tmpfs, left for adoption
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace gantry::testing
