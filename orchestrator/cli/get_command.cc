#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/events_command.h"
#include "cli/invocations_command.h"
#include "cli/output.h"

namespace gantry::cli {
namespace {

struct GetFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  bool all_namespaces = false;
  std::string output;
  InvocationListFlags invocations;
};

void PrintSecrets(std::FILE* out, const nlohmann::json& items, const std::string& output,
                  std::chrono::system_clock::time_point now) {
  Table table({{"NAME", 30}, {"UPDATED", 20}, {"AGE", 0}});
  if (output != "name") std::fputs(table.Header().c_str(), out);
  for (const auto& s : items) {
    if (output == "name") {
      std::fprintf(out, "secret.gantry.dev/%s\n", s.value("name", "").c_str());
    } else {
      std::fputs(table
                     .Row({s.value("name", ""), s.value("updatedAt", ""),
                           AgeSince(s.value("createdAt", ""), now)})
                     .c_str(),
                 out);
    }
  }
}

// NAME READY STATUS REPLICAS AGE (as kubectl: READY is ready/desired, AGE since
// creation; REPLICAS says "2 (1 paused)" when some are paused); -o wide adds IMAGE,
// GENERATION and REASON.
void PrintFunctions(std::FILE* out, const nlohmann::json& items, const GetFlags& f,
                    std::chrono::system_clock::time_point now) {
  const bool wide = f.output == "wide";
  std::vector<Table::Column> columns = {
      {"NAME", 24}, {"READY", 7}, {"STATUS", 13}, {"REPLICAS", 9}, {"AGE", wide ? 6 : 0}};
  if (wide) {
    columns.insert(columns.end(), {{"IMAGE", 40}, {"GENERATION", 11}, {"REASON", 0}});
  }
  if (f.all_namespaces) columns.insert(columns.begin(), {"NAMESPACE", 16});
  Table table(std::move(columns));
  if (f.output != "name") std::fputs(table.Header().c_str(), out);
  for (const auto& item : items) {
    const auto& st = item["status"];
    const auto& meta = item["metadata"];
    std::string name = meta.value("name", "");
    if (f.output == "name") {
      std::fprintf(out, "function.gantry.dev/%s\n", name.c_str());
      continue;
    }
    int ready = st.value("readyReplicas", 0);
    int current = st.value("currentReplicas", ready + st.value("startingReplicas", 0));
    int desired = st.value("desiredReplicas", current);
    std::string created = meta.value("creationTimestamp", st.value("createdAt", ""));
    // Paused replicas (scale.pauseAfter) are live ones: counted, and said when there are.
    int paused = st.value("pausedReplicas", 0);
    std::string replicas =
        paused > 0 ? fmt::format("{} ({} paused)", current, paused) : std::to_string(current);
    std::vector<std::string> row = {name, fmt::format("{}/{}", ready, desired),
                                    st.value("phase", ""), replicas, AgeOf(created, now)};
    if (wide) {
      row.push_back(st.value("image", ""));
      row.push_back(std::to_string(st.value("generation", int64_t{0})));
      row.push_back(st.value("reason", ""));
    }
    if (f.all_namespaces) row.insert(row.begin(), meta.value("namespace", ""));
    std::fputs(table.Row(row).c_str(), out);
  }
}

int RunGet(const GetFlags& f, const CommandContext& ctx) {
  if (IsInvocationKind(f.kind))
    return RunGetInvocations(f.ns, f.name, f.output, f.invocations, ctx);
  if (IsEventKind(f.kind)) return RunGetEvents(f.kind, f.ns, f.all_namespaces, f.output, ctx);
  const bool functions = IsFunctionKind(f.kind);
  if (!functions && f.kind != "secrets" && f.kind != "secret") {
    ctx.Fail(fmt::format(
        "gantry get: unknown kind \"{}\" (functions, secrets, invocations, triggers, topics or "
        "deadletters)",
        f.kind));
    return 2;
  }
  std::string path;
  if (!functions) {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/secrets", f.ns);
  } else if (!f.name.empty()) {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", f.ns, f.name);
  } else if (f.all_namespaces) {
    path = "/apis/gantry/v1/functions";
  } else {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/functions", f.ns);
  }
  ApiClient api = ctx.Client();
  auto reply = CheckedCall(api, "get", "GET", path);
  if (!reply) return ctx.Fail(reply.error().message());
  auto j = reply->Json();
  if (PrintStructured(ctx.out, j, f.output)) return 0;
  nlohmann::json items = j.contains("items") ? j["items"] : nlohmann::json::array({j});
  if (functions) {
    PrintFunctions(ctx.out, items, f, ctx.clock->Wall());
  } else {
    PrintSecrets(ctx.out, items, f.output, ctx.wall_now());
  }
  return 0;
}

}  // namespace

void AddGetCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<GetFlags>();
  CLI::App* cmd = app.add_subcommand(
      "get", "list functions or secrets, show one function, or list its invocations");
  cmd->add_option("kind", f->kind,
                  "functions, secrets, invocations, triggers, topics or deadletters")
      ->required();
  cmd->add_option("name", f->name, "one function");
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_flag("-A,--all-namespaces", f->all_namespaces, "functions of every namespace");
  cmd->add_option("-o,--output", f->output, "wide, json, yaml or name")
      ->check(CLI::IsMember({"wide", "json", "yaml", "name"}));
  AddInvocationListFlags(*cmd, f->invocations);
  cmd->callback([f, &ctx] { ctx.exit_code = RunGet(*f, ctx); });
}

}  // namespace gantry::cli
