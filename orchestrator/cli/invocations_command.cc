#include "cli/invocations_command.h"

#include <fmt/format.h>

#include "cli/output.h"
#include "core/time_format.h"

namespace gantry::cli {
namespace {

using nlohmann::json;

// "850us", "12ms", "1.25s", "2m5s".
std::string FormatMs(double ms) {
  if (ms < 1) return fmt::format("{}us", static_cast<int64_t>(ms * 1000));
  if (ms < 1000) return fmt::format("{}ms", static_cast<int64_t>(ms));
  if (ms < 60'000) return fmt::format("{:.2f}s", ms / 1000);
  const auto s = static_cast<int64_t>(ms / 1000);
  return fmt::format("{}m{}s", s / 60, s % 60);
}

// kubectl's AGE: "45s", "12m", "3h", "2d".
std::string Age(const std::string& started, std::chrono::system_clock::time_point now) {
  auto t = core::ParseUtc(started);
  if (!t) return "";
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(now - *t).count();
  if (s < 0) return "0s";
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  if (s < 172'800) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86'400);
}

std::string StatusCell(const json& r) {
  const int status = r.value("status", 0);
  if (status != 0) return std::to_string(status);
  return r.value("state", std::string("-"));  // a queued async call
}

}  // namespace

bool IsInvocationKind(const std::string& kind) {
  return kind == "invocations" || kind == "invocation" || kind == "inv";
}

void AddInvocationListFlags(CLI::App& get, InvocationListFlags& flags) {
  get.add_flag("--failed", flags.failed, "invocations: only failed calls (status >= 400, none)");
  get.add_option("--limit", flags.limit, "invocations: at most this many, newest first")
      ->check(CLI::Range(1, 1000));
  get.add_option("--since", flags.since, "invocations: started within (10m) or after (RFC 3339)");
}

std::string InvocationTable(const json& items, bool wide,
                            std::chrono::system_clock::time_point now) {
  std::vector<Table::Column> columns = {{"CALL ID", 37}, {"STATUS", 7},   {"TRIGGER", 8},
                                        {"COLD", 5},     {"DURATION", 9}, {"AGE", wide ? 5 : 0}};
  if (wide) {
    for (Table::Column c : std::vector<Table::Column>{
             {"REPLICA", 13}, {"WAIT", 8}, {"IN", 8}, {"OUT", 8}, {"ERROR", 0}}) {
      columns.push_back(std::move(c));
    }
  }
  Table table(std::move(columns));
  std::string text = table.Header();
  for (const auto& r : items) {
    std::vector<std::string> row = {r.value("callId", ""),
                                    StatusCell(r),
                                    r.value("trigger", ""),
                                    r.value("cold", false) ? "yes" : "no",
                                    FormatMs(r.value("durationMs", 0.0)),
                                    Age(r.value("startedAt", ""), now)};
    if (wide) {
      row.push_back(r.value("replica", ""));
      row.push_back(FormatMs(r.value("queueWaitMs", 0.0)));
      row.push_back(std::to_string(r.value("requestBytes", int64_t{0})));
      row.push_back(std::to_string(r.value("responseBytes", int64_t{0})));
      row.push_back(r.value("error", ""));
    }
    text += table.Row(row);
  }
  return text;
}

std::string DescribeInvocationText(const json& r) {
  std::string out;
  auto line = [&out](const char* label, const std::string& value) {
    out += fmt::format("{:<16}{}\n", std::string(label) + ":", value);
  };
  line("Call ID", r.value("callId", ""));
  line("Function", r.value("function", ""));
  line("Namespace", r.value("namespace", ""));
  line("Generation", std::to_string(r.value("generation", int64_t{0})));
  line("Replica", r.value("replica", ""));
  line("Trigger", r.value("trigger", ""));
  line("Cold start", r.value("cold", false) ? "yes" : "no");
  line("Started", r.value("startedAt", ""));
  line("Queue wait", FormatMs(r.value("queueWaitMs", 0.0)));
  line("Duration", FormatMs(r.value("durationMs", 0.0)));
  line("Status", StatusCell(r));
  line("Request bytes", std::to_string(r.value("requestBytes", int64_t{0})));
  line("Response bytes", std::to_string(r.value("responseBytes", int64_t{0})));
  if (!r.value("error", "").empty()) line("Error", r.value("error", ""));
  if (r.contains("state")) {
    line("State", r.value("state", ""));
    line("Attempts", std::to_string(r.value("attempts", int64_t{0})));
    line("Enqueued", r.value("enqueuedAt", ""));
  }
  if (r.contains("result") && r["result"].is_object()) {
    const json& res = r["result"];
    out += "Result:\n";
    out += fmt::format("  Status:       {}\n", res.value("status", 0));
    if (res.contains("headers") && !res["headers"].empty()) {
      out += "  Headers:\n";
      for (const auto& [k, v] : res["headers"].items()) {
        out += fmt::format("    {}: {}\n", k, v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    std::string encoding = res.value("bodyEncoding", "");
    out += fmt::format("  Body{}{}:\n", encoding.empty() ? "" : " (" + encoding + ")",
                       res.value("truncated", false) ? " (truncated)" : "");
    std::string body = res.value("body", "");
    std::size_t start = 0;
    while (start < body.size()) {
      std::size_t end = body.find('\n', start);
      if (end == std::string::npos) end = body.size();
      out += "    " + body.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  return out;
}

int RunGetInvocations(const std::string& ns, const std::string& function, const std::string& output,
                      const InvocationListFlags& flags, const CommandContext& ctx) {
  if (function.empty()) {
    ctx.Fail("gantry get invocations: name the function (gantry get invocations FN)");
    return 2;
  }
  if (output == "name") {
    ctx.Fail("gantry get invocations: -o name is for functions and secrets");
    return 2;
  }
  std::vector<std::string> query;
  if (flags.failed) query.emplace_back("status=failed");
  if (flags.limit > 0) query.push_back(fmt::format("limit={}", flags.limit));
  if (!flags.since.empty()) {
    // A duration is checked here; an RFC 3339 time is the server's to read.
    if (!core::ParseUtc(flags.since)) {
      auto d = ParseDurationFlag("get", "--since", flags.since);
      if (!d) return ctx.Fail(d.error().message());
    }
    query.push_back("since=" + flags.since);
  }
  std::string path =
      fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}/invocations", ns, function);
  if (!query.empty()) path += "?" + fmt::format("{}", fmt::join(query, "&"));
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "get", "GET", path);
  if (!reply) return ctx.Fail(reply.error().message());
  json j = reply->Json();
  if (PrintStructured(ctx.out, j, output)) return 0;
  json items = j.contains("items") ? j["items"] : json::array();
  std::fputs(InvocationTable(items, output == "wide", ctx.wall_now()).c_str(), ctx.out);
  return 0;
}

int RunDescribeInvocation(const std::string& ns, const std::string& id, const std::string& output,
                          const CommandContext& ctx) {
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "describe", "GET",
                           fmt::format("/apis/gantry/v1/namespaces/{}/invocations/{}", ns, id));
  if (!reply) return ctx.Fail(reply.error().message());
  json j = reply->Json();
  if (!PrintStructured(ctx.out, j, output)) {
    std::fputs(DescribeInvocationText(j).c_str(), ctx.out);
  }
  return 0;
}

}  // namespace gantry::cli
