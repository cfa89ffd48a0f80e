// Logs that outlive replicas, against a real gantryd and engine (CTest label
// "integration"): `gantry logs` shows the lines of a replica that is gone, `gantry logs -f`
// and /system/logs?follow=true receive a line the function prints while they run, and a
// function crashing at import leaves its traceback.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "gantryd_support.h"
#include "support/engine.h"
#include "support/examples.h"

namespace gantry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// `gantry args...` as a child process with stdout (and stderr) read into one string until
// `until` holds for it or `deadline` passes; then it is ended (SIGTERM, by its pid) if
// still running. Returns what it printed.
std::string Gantry(const Gantryd& gantryd, const std::vector<std::string>& args,
                   const std::function<bool(const std::string&)>& until = nullptr,
                   std::chrono::seconds deadline = 60s,
                   const std::function<void()>& once_started = nullptr) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  std::vector<std::string> argv_s = {GANTRY_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = {"GANTRY_URL=" + gantryd.url(),
                                    "GANTRY_TOKEN=" + gantryd.token(), "HOME=/tmp"};
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, GANTRY_BINARY, &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (once_started) once_started();
  std::string text;
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end && !(until && until(text))) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  return text;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An exec function that writes "line <body>" to its stderr for every call.
spec::FunctionSpec Printer(TestEngine& engine, const fs::path& dir) {
  fs::create_directories(dir / "printer");
  std::ofstream(dir / "printer" / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: printer\nspec:\n"
         "  runtime: exec\n"
         "  command: [\"sh\", \"-c\", \"echo \\\"line $(cat)\\\" >&2; echo ok\"]\n"
         "  scale: {min: 0, max: 1, idleTimeout: 1m}\n";
  return LoadFunctionInto(engine.value(), dir / "printer" / "gantry.yaml");
}

Reply Invoke(const Gantryd& gantryd, const spec::FunctionSpec& fn, const std::string& body) {
  return gantryd.Call("POST", "/function/" + fn.name() + "." + fn.namespace_name(), body, {},
                      /*auth=*/false);
}

void WaitForNoReplica(TestEngine& engine, const std::string& name) {
  for (auto until = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < until && !ContainersOf(engine, name).empty();) {
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(ContainersOf(engine, name).empty());
}

TEST_CASE("logs: gantry logs shows the lines of a replica that is gone", "[integration][logs]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  auto fn = Printer(engine, state.path());
  Deploy(gantryd, fn);
  for (const char* body : {"one", "two"}) {
    Reply r = Invoke(gantryd, fn, body);
    INFO(r.body << gantryd.Log());
    REQUIRE(r.status == 200);
  }
  const std::vector<std::string> logs = {"logs", "printer", "-n", fn.namespace_name(), "--prefix"};
  // Until the follower has them (it starts with the replica, or within the resync's second).
  std::string before;
  for (auto until = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < until && !Contains(before, "line two");) {
    before = Gantry(gantryd, logs);
  }
  INFO(before);
  CHECK(Contains(before, "line one"));
  CHECK(Contains(before, "[replica/"));

  Reply scaled = gantryd.Call("PUT", FunctionPath(fn) + "/scale", R"({"replicas": 0})",
                              {"Content-Type: application/json"});
  REQUIRE(scaled.status == 200);
  WaitForNoReplica(engine, "printer");

  // (The shim tags an exec call's stderr lines "[<call id>] stderr: ", and says when it
  // stops.)
  std::string all = Gantry(gantryd, {"logs", "printer", "-n", fn.namespace_name()});
  INFO(all << gantryd.Log());
  CHECK(Contains(all, "stderr: line one\n"));
  CHECK(Contains(all, "stderr: line two\n"));
  CHECK(Contains(all, "gantry-shim: stopped\n"));
  std::string tail = Gantry(gantryd, {"logs", "printer", "-n", fn.namespace_name(), "--tail", "3"});
  CHECK(Contains(tail, "stderr: line two\n"));
  CHECK_FALSE(Contains(tail, "line one"));
  // Each line names the call that wrote it.
  std::string json = Gantry(gantryd, {"logs", "printer", "-n", fn.namespace_name(), "-o", "json"});
  bool attributed = false;
  for (std::size_t at = 0, end; (end = json.find('\n', at)) != std::string::npos; at = end + 1) {
    auto e = nlohmann::json::parse(json.substr(at, end - at), nullptr, false);
    if (Contains(e.value("text", ""), "line one")) attributed = e.value("callId", "").size() == 36;
  }
  CHECK(attributed);
}

TEST_CASE("logs: gantry logs -f and /system/logs?follow=true get a line printed while they run",
          "[integration][logs]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  auto fn = Printer(engine, state.path());
  Deploy(gantryd, fn);

  // The OpenFaaS route, followed on a thread of its own until it sees the line.
  std::atomic<bool> openfaas_saw{false};
  std::string openfaas_text;
  std::thread openfaas([&] {
    CURL* h = curl_easy_init();
    std::string url = gantryd.url() + "/system/logs?name=printer&namespace=" + fn.namespace_name() +
                      "&follow=true";
    std::string auth = "Authorization: Bearer " + gantryd.token();
    curl_slist* list = curl_slist_append(nullptr, auth.c_str());
    struct Sink {
      std::string* text;
      std::atomic<bool>* saw;
    } sink{&openfaas_text, &openfaas_saw};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(
        h, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* user) -> size_t {
          auto* s = static_cast<Sink*>(user);
          s->text->append(data, size * n);
          if (Contains(*s->text, "line followed")) {
            *s->saw = true;
            return 0;  // seen: end the transfer
          }
          return size * n;
        });
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(h);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
  });

  // The call is made once the follower runs: the line did not exist when it started.
  std::thread caller;
  std::string followed = Gantry(
      gantryd, {"logs", "printer", "-n", fn.namespace_name(), "-f"},
      [](const std::string& t) { return Contains(t, "line followed"); }, 60s,
      [&] {
        caller = std::thread([&] {
          std::this_thread::sleep_for(1s);
          Reply r = Invoke(gantryd, fn, "followed");
          CHECK(r.status == 200);
        });
      });
  caller.join();
  openfaas.join();
  INFO(followed << "\n" << openfaas_text << "\n" << gantryd.Log());
  CHECK(Contains(followed, "stderr: line followed\n"));
  CHECK(openfaas_saw);
  std::size_t at = openfaas_text.rfind('\n', openfaas_text.find("line followed"));
  at = at == std::string::npos ? 0 : at + 1;
  auto entry = nlohmann::json::parse(openfaas_text.substr(at, openfaas_text.find('\n', at) - at),
                                     nullptr, false);
  CHECK(entry["name"] == "printer");
  CHECK(entry["namespace"] == fn.namespace_name());
  CHECK(entry["instance"].get<std::string>().size() == 12);
  CHECK(Contains(entry.value("text", ""), "line followed"));
}

TEST_CASE("logs: a python3 function crashing at import leaves its traceback in gantry logs",
          "[integration][logs]") {
  TestEngine engine;
  StateDir state(engine);
  Gantryd gantryd(engine, state.path());
  fs::path src = state.path() / "broken";
  fs::create_directories(src);
  std::ofstream(src / "handler.py") << "import requests\n\ndef main(event, context):\n"
                                       "    return 'never'\n";
  std::ofstream(src / "gantry.yaml")
      << "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: broken\nspec:\n"
         "  runtime: python3\n  handler: handler.main\n  source: .\n"
         "  scale: {min: 0, max: 1}\n";
  auto fn = LoadFunctionInto(engine.value(), src / "gantry.yaml");
  Deploy(gantryd, fn);
  Reply r = Invoke(gantryd, fn, "x");
  CHECK(r.status >= 500);
  std::string logs;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < until && !Contains(logs, "No module named 'requests'");) {
    logs = Gantry(gantryd, {"logs", "broken", "-n", fn.namespace_name()});
    std::this_thread::sleep_for(500ms);
  }
  INFO(logs << "\n" << gantryd.Log());
  CHECK(Contains(logs, "Traceback (most recent call last):"));
  CHECK(Contains(logs, "ModuleNotFoundError: No module named 'requests'"));
}

}  // namespace
}  // namespace gantry::testing
