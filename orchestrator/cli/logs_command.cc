#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
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
  bool prefix = false;
  bool timestamps = false;
};

// Prints one NDJSON line of the logs route as the flags ask, stdout and stderr lines alike
// on out (as kubectl logs does: one ordered story, which `| grep` sees whole; -o json
// keeps the stream): "[replica/<12 hex>] " first with --prefix, the time with
// --timestamps; -o json prints the line itself. False when the output is gone (a closed
// pipe): the caller stops.
bool PrintLine(const LogsFlags& f, const CommandContext& ctx, const std::string& line) {
  if (line.empty()) return true;
  auto e = nlohmann::json::parse(line, nullptr, false);
  if (!e.is_object()) return true;
  if (f.output == "json") return std::fprintf(ctx.out, "%s\n", line.c_str()) >= 0;
  std::string shown;
  if (f.prefix) shown += fmt::format("[replica/{}] ", e.value("replica", ""));
  if (f.timestamps) shown += e.value("time", "") + " ";
  shown += e.value("text", "");
  return std::fprintf(ctx.out, "%s\n", shown.c_str()) >= 0;
}

int RunLogs(const LogsFlags& f, const CommandContext& ctx) {
  std::string path = fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}/logs", f.ns, f.name);
  std::string query;
  auto add = [&query](const std::string& param) { query += (query.empty() ? "?" : "&") + param; };
  if (f.tail > 0) add(fmt::format("tail={}", f.tail));
  if (!f.since.empty()) {
    if (core::ParseUtc(f.since)) {
      add("since=" + f.since);
    } else {
      auto d = ParseDurationFlag("logs", "--since", f.since);
      if (!d) {
        ctx.Fail(d.error().message() + " (or an RFC 3339 time)");
        return 2;
      }
      add("since=" + core::FormatUtc(ctx.wall_now() - *d));
    }
  }
  if (f.follow) add("follow=true");
  path += query;
  ApiClient api = ctx.Client();
  if (!f.follow) {
    auto r = CheckedCall(api, "logs", "GET", path);
    if (!r) return ctx.Fail(r.error().message());
    std::size_t start = 0;
    while (start < r->body.size()) {
      std::size_t end = r->body.find('\n', start);
      if (end == std::string::npos) end = r->body.size();
      if (!PrintLine(f, ctx, r->body.substr(start, end - start))) break;
      start = end + 1;
    }
    std::fflush(ctx.out);
    return 0;
  }
  // Followed: lines as gantryd sends them, until it ends the answer, Ctrl-C or a closed
  // pipe. A chunk may end inside a line: the rest waits for the next chunk.
  std::string partial;
  bool output_gone = false;
  auto r = api.Stream(path, [&](std::string_view chunk) {
    partial.append(chunk);
    std::size_t start = 0;
    for (std::size_t end; (end = partial.find('\n', start)) != std::string::npos; start = end + 1) {
      if (!PrintLine(f, ctx, partial.substr(start, end - start))) output_gone = true;
    }
    partial.erase(0, start);
    if (std::fflush(ctx.out) != 0) output_gone = true;
    return !output_gone;
  });
  if (output_gone) return 0;
  if (!r) return ctx.Fail("gantry logs: " + r.error().message());
  if (r->status >= 300) return ctx.Fail("gantry logs: " + r->ErrorMessage());
  return 0;
}

}  // namespace

void AddLogsCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<LogsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "logs", "print a function's output (every replica, also those gone, oldest first)");
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_option("--tail", f->tail, "the function's last N lines (all replicas together)");
  cmd->add_option("--since", f->since,
                  "only newer lines: a duration (30s, 5m, 2h, 1h30m) or an RFC 3339 time");
  cmd->add_flag("-f,--follow", f->follow,
                "keep printing new lines as the function writes them (Ctrl-C stops)");
  cmd->add_flag("--prefix", f->prefix, "start each line with its replica: [replica/<id>]");
  cmd->add_flag("--timestamps", f->timestamps, "start each line with its time (RFC 3339)");
  cmd->add_option("-o,--output", f->output,
                  "json: one JSON object a line (time, stream, text, replica, callId, generation)")
      ->check(CLI::IsMember({"json"}));
  cmd->callback([f, &ctx] { ctx.exit_code = RunLogs(*f, ctx); });
}

}  // namespace gantry::cli
