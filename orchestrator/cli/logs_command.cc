#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/time_format.h"

namespace gantry::cli {
namespace {

struct LogsFlags {
  std::string name;
  std::string ns = "default";
  std::string since;
  std::string output;
  int64_t tail = 0;
  bool follow = false;
};

int RunLogs(const LogsFlags& f, const CommandContext& ctx) {
  std::optional<std::chrono::system_clock::time_point> since;
  if (!f.since.empty()) {
    auto d = ParseDurationFlag("logs", "--since", f.since);
    if (!d) {
      ctx.Fail(d.error().message());
      return 2;
    }
    since = ctx.wall_now() - *d;
  }
  ApiClient api = ctx.Client();
  std::string last_stamp;
  do {
    std::string path = fmt::format("/system/logs?name={}&namespace={}", f.name, f.ns);
    if (f.tail > 0 && last_stamp.empty()) path += fmt::format("&tail={}", f.tail);
    if (since) path += "&since=" + core::FormatUtc(*since);
    auto r = CheckedCall(api, "logs", "GET", path);
    if (!r) return ctx.Fail(r.error().message());
    std::istringstream lines(r->body);
    for (std::string line; std::getline(lines, line);) {
      auto e = nlohmann::json::parse(line, nullptr, false);
      if (!e.is_object()) continue;
      std::string stamp = e.value("timestamp", "");
      if (!last_stamp.empty() && stamp <= last_stamp) continue;  // seen on an earlier poll
      last_stamp = std::max(last_stamp, stamp);
      std::fprintf(ctx.out, "%s\n",
                   f.output == "json" ? line.c_str() : e.value("text", "").c_str());
    }
    std::fflush(ctx.out);
    if (f.follow) {
      // The next poll overlaps this one by a second or two; the stamps drop what was seen.
      since = ctx.wall_now() - std::chrono::seconds(2);
      ctx.sleep(std::chrono::seconds(1));
    }
  } while (f.follow);
  return 0;
}

}  // namespace

void AddLogsCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<LogsFlags>();
  CLI::App* cmd =
      app.add_subcommand("logs", "print a function's output (every replica, oldest first)");
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_option("--tail", f->tail, "the last N lines of each replica");
  cmd->add_option("--since", f->since, "only newer lines: a duration (30s, 5m, 2h, 1h30m)");
  cmd->add_flag("-f,--follow", f->follow,
                "keep printing new lines (polls once a second; Ctrl-C stops)");
  cmd->add_option("-o,--output", f->output,
                  "json: one JSON object a line (name, namespace, instance, timestamp, text)")
      ->check(CLI::IsMember({"json"}));
  cmd->callback([f, &ctx] { ctx.exit_code = RunLogs(*f, ctx); });
}

}  // namespace gantry::cli
