#include "cli/cli_test_support.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "cli/commands.h"

namespace gantry::cli::testing {
namespace {

// A FILE* that writes into memory; text() is what was written.
class MemoryStream {
 public:
  MemoryStream() : file_(open_memstream(&data_, &size_)) {}
  ~MemoryStream() {
    if (file_ != nullptr) std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

}  // namespace

http::Sender FakeGantryd::sender() {
  return [this](const http::Request& r) {
    requests.push_back(r);
    http::Response answer = handler ? handler(r) : http::Response{.status = 200, .body = "{}"};
    if (!r.on_body || answer.status < 200 || answer.status >= 300) return answer;
    // A streamed answer (logs -f, build progress): the body in pieces of chunk_bytes.
    std::string body = std::move(answer.body);
    answer.body.clear();
    for (std::size_t at = 0; at < body.size(); at += chunk_bytes) {
      ++chunks_delivered;
      if (!r.on_body(std::string_view(body).substr(at, chunk_bytes))) {
        answer.error = "stopped by the receiver";
        break;
      }
    }
    return answer;
  };
}

std::string FakeGantryd::Target(std::size_t i) const {
  const std::string& url = requests.at(i).url;
  return url.rfind(kServer, 0) == 0 ? url.substr(std::string(kServer).size()) : url;
}

std::string FakeGantryd::Header(std::size_t i, const std::string& name) const {
  for (const auto& h : requests.at(i).headers) {
    if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
  }
  return "";
}

TempDir::TempDir() {
  static int n = 0;
  path_ = std::filesystem::temp_directory_path() /
          ("gantry-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& relative, const std::string& text) const {
  std::filesystem::path p = path_ / relative;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

CliRun RunGantry(FakeGantryd& fake, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, core::ManualClock* clock,
                 std::chrono::system_clock::time_point wall) {
  MemoryStream out;
  MemoryStream err;
  core::ManualClock own_clock;
  core::ManualClock* time = clock != nullptr ? clock : &own_clock;
  CommandContext ctx;
  ctx.send = fake.sender();
  ctx.out = out.file();
  ctx.err = err.file();
  ctx.clock = time;
  ctx.sleep = [time](std::chrono::milliseconds d) { time->Advance(d); };
  ctx.wall_now = [wall] { return wall; };
  ctx.sources.env = [env](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  ctx.sources.default_token_file = "/nonexistent/gantry-token";

  CLI::App app{"gantry", "gantry"};
  app.require_subcommand(0, 1);
  app.fallthrough();
  AddClientFlags(app, ctx.flags);
  AddCommands(app, ctx);
  std::vector<std::string> argv_text = {"gantry"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  bool has_server = std::find(args.begin(), args.end(), "--server") != args.end();
  if (!has_server && !env.contains("GANTRY_URL")) {
    argv_text.push_back("--server");
    argv_text.push_back(kServer);
  }
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  CliRun run;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    run.exit_code = ctx.exit_code;
  } catch (const CLI::ParseError& e) {
    run.exit_code = e.get_exit_code() == 0 ? 0 : 2;
    std::fprintf(err.file(), "%s\n", e.what());
  }
  run.out = out.text();
  run.err = err.text();
  return run;
}

}  // namespace gantry::cli::testing
