#include "cli/events_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/read_stdin.h"

namespace gantry::cli {
namespace {

using nlohmann::json;

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string TriggerTable(const json& items, bool all_namespaces) {
  std::vector<Table::Column> columns = {{"FUNCTION", 20}, {"TYPE", 6},       {"SCHEDULE", 28},
                                        {"MISSED", 7},    {"LAST FIRE", 21}, {"NEXT FIRE", 0}};
  if (all_namespaces) columns.insert(columns.begin(), {"NAMESPACE", 16});
  Table table(std::move(columns));
  std::string text = table.Header();
  for (const auto& t : items) {
    const bool cron = t.value("type", "") == "cron";
    std::vector<std::string> row = {
        t.value("function", ""),
        t.value("type", ""),
        cron ? fmt::format("{} ({})", t.value("cron", ""), t.value("timezone", ""))
             : t.value("topic", ""),
        cron ? t.value("missed", "") : "-",
        cron ? Text(t, "lastFire") : "-",
        cron ? (t.value("error", "").empty() ? Text(t, "nextFire")
                                             : "error: " + t.value("error", ""))
             : "-"};
    if (all_namespaces) row.insert(row.begin(), t.value("namespace", ""));
    text += table.Row(row);
  }
  return text;
}

std::string TopicTable(const json& items) {
  Table table({{"TOPIC", 24}, {"TOKEN", 6}, {"SUBSCRIBERS", 0}});
  std::string text = table.Header();
  for (const auto& t : items) {
    std::vector<std::string> names;
    for (const auto& s : t.value("subscribers", json::array()))
      names.push_back(s.get<std::string>());
    text += table.Row({t.value("topic", ""), t.value("publishToken", false) ? "yes" : "no",
                       names.empty() ? "-" : fmt::format("{}", fmt::join(names, ", "))});
  }
  return text;
}

std::string DeadLetterTable(const json& items, bool all_namespaces) {
  std::vector<Table::Column> columns = {{"ID", 40},    {"FUNCTION", 20}, {"SOURCE", 18},
                                        {"STATUS", 7}, {"ATTEMPTS", 9},  {"FAILED", 25},
                                        {"ERROR", 0}};
  if (all_namespaces) columns.insert(columns.begin(), {"NAMESPACE", 16});
  Table table(std::move(columns));
  std::string text = table.Header();
  for (const auto& d : items) {
    const std::string source = d.value("trigger", "") == "topic" ? "topic " + d.value("topic", "")
                                                                 : d.value("trigger", "");
    std::vector<std::string> row = {d.value("id", ""),
                                    d.value("function", ""),
                                    source,
                                    std::to_string(d.value("status", 0)),
                                    std::to_string(d.value("attempts", 0)),
                                    d.value("failedAt", ""),
                                    d.value("error", "")};
    if (all_namespaces) row.insert(row.begin(), d.value("namespace", ""));
    text += table.Row(row);
  }
  return text;
}

struct PublishFlags {
  std::string topic;
  std::string data;
  bool data_set = false;
  std::string content_type = "application/json";
};

int RunPublish(const PublishFlags& f, const CommandContext& ctx) {
  auto body = ReadDataFlag("publish", f.data, f.data_set);
  if (!body) return ctx.Fail(body.error().message());
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "publish", "POST", "/topics/" + f.topic, *body,
                           {{"Content-Type", f.content_type}});
  if (!reply) return ctx.Fail(reply.error().message());
  json j = reply->Json();
  const auto deliveries = j.value("deliveries", json::array());
  std::fprintf(ctx.out, "event %s published to topic %s: %zu deliver%s\n",
               j.value("eventId", "").c_str(), f.topic.c_str(), deliveries.size(),
               deliveries.size() == 1 ? "y" : "ies");
  for (const auto& d : deliveries) {
    std::fprintf(ctx.out, "  %s/%s  call %s\n", d.value("namespace", "").c_str(),
                 d.value("function", "").c_str(), d.value("callId", "").c_str());
  }
  return 0;
}

struct ReplayFlags {
  std::string kind;
  std::vector<std::string> ids;
  std::string ns = "default";
  bool all = false;
};

int RunReplay(const ReplayFlags& f, const CommandContext& ctx) {
  ApiClient api = ctx.Client();
  std::vector<std::string> ids = f.ids;
  if (f.all) {
    auto list = CheckedCall(api, "replay", "GET",
                            fmt::format("/apis/gantry/v1/namespaces/{}/deadletters", f.ns));
    if (!list) return ctx.Fail(list.error().message());
    for (const auto& d : list->Json().value("items", json::array()))
      ids.push_back(d.value("id", ""));
  }
  if (ids.empty()) {
    if (f.all) {
      std::fprintf(ctx.out, "no dead letters in namespace %s\n", f.ns.c_str());
      return 0;
    }
    ctx.Fail("gantry replay: name the dead letters (gantry replay deadletter ID...) or --all");
    return 2;
  }
  int failed = 0;
  for (const std::string& id : ids) {
    auto reply =
        CheckedCall(api, "replay", "POST",
                    fmt::format("/apis/gantry/v1/namespaces/{}/deadletters/{}/replay", f.ns, id));
    if (!reply) {
      ctx.Fail(reply.error().message());
      ++failed;
      continue;
    }
    json j = reply->Json();
    std::fprintf(ctx.out, "deadletter %s replayed to %s as call %s\n", id.c_str(),
                 j.value("function", "").c_str(), j.value("callId", "").c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

bool IsEventKind(const std::string& kind) {
  return kind == "triggers" || kind == "trigger" || kind == "topics" || kind == "topic" ||
         kind == "deadletters" || kind == "deadletter" || kind == "dlq";
}

int RunGetEvents(const std::string& kind, const std::string& ns, bool all_namespaces,
                 const std::string& output, const CommandContext& ctx) {
  const bool topics = kind == "topics" || kind == "topic";
  const bool triggers = kind == "triggers" || kind == "trigger";
  const std::string resource = triggers ? "triggers" : topics ? "topics" : "deadletters";
  const std::string path = topics || all_namespaces
                               ? "/apis/gantry/v1/" + resource
                               : fmt::format("/apis/gantry/v1/namespaces/{}/{}", ns, resource);
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "get", "GET", path);
  if (!reply) return ctx.Fail(reply.error().message());
  json j = reply->Json();
  if (PrintStructured(ctx.out, j, output)) return 0;
  const json items = j.value("items", json::array());
  std::string text = triggers ? TriggerTable(items, all_namespaces)
                     : topics ? TopicTable(items)
                              : DeadLetterTable(items, all_namespaces);
  std::fputs(text.c_str(), ctx.out);
  return 0;
}

void AddPublishCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<PublishFlags>();
  CLI::App* cmd = app.add_subcommand(
      "publish", "publish an event to a topic: one async call per subscribed function");
  cmd->add_option("topic", f->topic, "the topic")->required();
  cmd->add_option("-d,--data", f->data, "the event (@FILE reads a file; default: stdin)")
      ->each([f](const std::string&) { f->data_set = true; });
  cmd->add_option("--content-type", f->content_type, "the event's Content-Type")
      ->capture_default_str();
  cmd->callback([f, &ctx] { ctx.exit_code = RunPublish(*f, ctx); });
}

void AddReplayCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<ReplayFlags>();
  CLI::App* cmd = app.add_subcommand("replay", "queue dead letters again (and remove them)");
  cmd->add_option("kind", f->kind, "deadletter")
      ->required()
      ->check(CLI::IsMember({"deadletter", "deadletters", "dlq"}));
  cmd->add_option("ids", f->ids, "the dead letters' ids");
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_flag("--all", f->all, "every dead letter of the namespace");
  cmd->callback([f, &ctx] { ctx.exit_code = RunReplay(*f, ctx); });
}

}  // namespace gantry::cli
