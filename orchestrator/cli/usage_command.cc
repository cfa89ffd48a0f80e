#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/time_format.h"

namespace gantry::cli {
namespace {

using nlohmann::json;

struct UsageFlags {
  std::string ns = "default";
  bool all_namespaces = false;
  std::string function;
  std::string since = "24h";
  std::string until;
  std::string by = "function";
  std::string output;
};

// A time flag for the query: a duration (checked here) or an RFC 3339 time (the server's to
// read), with '+' escaped so that an offset survives the query string.
core::Result<std::string> TimeQuery(const char* flag, const std::string& text) {
  if (!core::ParseUtc(text)) {
    auto d = ParseDurationFlag("usage", flag, text);
    if (!d) return d.error();
  }
  std::string out;
  for (char c : text) out += c == '+' ? std::string("%2B") : std::string(1, c);
  return out;
}

std::string Bytes(int64_t n) {
  if (n < 10 * 1024) return fmt::format("{}B", n);
  if (n < 10 * 1024 * 1024) return fmt::format("{}Ki", n / 1024);
  if (n < 10LL * 1024 * 1024 * 1024) return fmt::format("{}Mi", n / (1024 * 1024));
  return fmt::format("{}Gi", n / (1024LL * 1024 * 1024));
}

std::vector<std::string> Cells(const json& u) {
  return {std::to_string(u.value("calls", int64_t{0})),
          std::to_string(u.value("errors", int64_t{0})),
          std::to_string(u.value("coldStarts", int64_t{0})),
          fmt::format("{:.3f}", u.value("gbSeconds", 0.0)),
          Bytes(u.value("requestBytes", int64_t{0})),
          Bytes(u.value("responseBytes", int64_t{0}))};
}

int RunUsage(const UsageFlags& f, const CommandContext& ctx) {
  auto since = TimeQuery("--since", f.since);
  if (!since) return ctx.Fail(since.error().message());
  std::string query = fmt::format("?by={}&since={}", f.by, *since);
  if (!f.until.empty()) {
    auto until = TimeQuery("--until", f.until);
    if (!until) return ctx.Fail(until.error().message());
    query += "&until=" + *until;
  }
  if (!f.function.empty()) query += "&function=" + f.function;
  const std::string path = f.all_namespaces
                               ? "/apis/gantry/v1/usage" + query
                               : fmt::format("/apis/gantry/v1/namespaces/{}/usage{}", f.ns, query);
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "usage", "GET", path);
  if (!reply) return ctx.Fail(reply.error().message());
  json j = reply->Json();
  if (PrintStructured(ctx.out, j, f.output)) return 0;
  const bool by_hour = f.by == "hour";
  std::vector<Table::Column> columns;
  if (by_hour) {
    columns.push_back({"HOUR", 22});
  } else {
    if (f.all_namespaces) columns.push_back({"NAMESPACE", 16});
    columns.push_back({"FUNCTION", 24});
  }
  for (Table::Column c : std::vector<Table::Column>{
           {"CALLS", 9}, {"ERRORS", 8}, {"COLD", 6}, {"GB-S", 12}, {"IN", 8}, {"OUT", 0}}) {
    columns.push_back(std::move(c));
  }
  Table table(std::move(columns));
  std::string text = table.Header();
  auto row = [&](std::vector<std::string> keys, const json& u) {
    for (std::string& cell : Cells(u)) keys.push_back(std::move(cell));
    text += table.Row(keys);
  };
  for (const auto& u : j.value("items", json::array())) {
    if (by_hour) {
      row({u.value("hour", "")}, u);
    } else if (f.all_namespaces) {
      row({u.value("namespace", ""), u.value("function", "")}, u);
    } else {
      row({u.value("function", "")}, u);
    }
  }
  std::vector<std::string> total = {"TOTAL"};
  if (!by_hour && f.all_namespaces) total.emplace_back("");
  row(total, j.value("total", json::object()));
  std::fputs(text.c_str(), ctx.out);
  std::fprintf(ctx.out, "since %s until %s\n", j.value("since", "").c_str(),
               j.value("until", "").c_str());
  return 0;
}

}  // namespace

void AddUsageCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<UsageFlags>();
  CLI::App* cmd = app.add_subcommand(
      "usage", "what functions used: calls, errors, cold starts, GB-seconds, bytes");
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_flag("-A,--all-namespaces", f->all_namespaces, "every namespace");
  cmd->add_option("--function", f->function, "only this function");
  cmd->add_option("--since", f->since, "from this long ago (24h) or this RFC 3339 time")
      ->capture_default_str();
  cmd->add_option("--until", f->until, "up to this long ago or this RFC 3339 time (default now)");
  cmd->add_option("--by", f->by, "one row per function or per hour")
      ->check(CLI::IsMember({"function", "hour"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", f->output, "json or yaml (default: a table)")
      ->check(CLI::IsMember({"json", "yaml"}));
  cmd->callback([f, &ctx] { ctx.exit_code = RunUsage(*f, ctx); });
}

}  // namespace gantry::cli
