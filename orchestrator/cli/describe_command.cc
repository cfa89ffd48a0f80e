#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/invocations_command.h"
#include "cli/output.h"
#include "core/time_format.h"

namespace gantry::cli {
namespace {

struct DescribeFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  std::string output;
};

// The Events section, as kubectl describe prints it: oldest first; a repeated event shows
// its count and the span ("3m (x5 over 10m)").
void PrintEvents(std::FILE* out, const nlohmann::json& events,
                 std::chrono::system_clock::time_point now) {
  if (events.empty()) {
    std::fprintf(out, "Events:       <none>\n");
    return;
  }
  Table table({{"Type", 8}, {"Reason", 12}, {"Age", 16}, {"From", 21}, {"Message", 0}}, "  ");
  std::fprintf(out, "Events:\n%s", table.Header().c_str());
  std::fputs(table.Row({"----", "------", "----", "----", "-------"}).c_str(), out);
  for (const auto& e : events) {
    if (!e.is_object()) continue;
    std::string age = AgeOf(e.value("time", ""), now);
    if (e.value("count", 1) > 1) {
      age = fmt::format("{} (x{} over {})", AgeOf(e.value("lastTime", ""), now),
                        e.value("count", 1), age);
    }
    std::string replica = e.value("replica", "");
    std::fputs(
        table
            .Row({e.value("type", ""), e.value("reason", ""), age,
                  replica.empty() ? "gantryd" : "replica/" + replica, e.value("message", "")})
            .c_str(),
        out);
  }
}

// Status, Reason and Next retry: what the function's phase is and why.
void PrintPhase(std::FILE* out, const nlohmann::json& st,
                std::chrono::system_clock::time_point now) {
  std::fprintf(out, "Status:       %s\n", st.value("phase", "").c_str());
  if (!st.value("reason", "").empty()) {
    std::fprintf(out, "Reason:       %s\n", st.value("reason", "").c_str());
  }
  if (st.contains("nextRetry") && st["nextRetry"].is_string()) {
    std::string at = st["nextRetry"].get<std::string>();
    auto t = core::ParseUtc(at);
    std::string in = t && *t > now ? " (in " + FormatAge(*t - now) + ")" : "";
    std::fprintf(out, "Next retry:   %s%s\n", at.c_str(), in.c_str());
  }
}

// j[key] when j is an object that has it as an object or array, else an empty object: a
// const json's operator[] on a missing key is undefined behaviour, and value() throws on
// anything but an object.
const nlohmann::json& Member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  if (it == j.end() || !(it->is_object() || it->is_array())) return kEmpty;
  return *it;
}

void PrintDescribe(std::FILE* out, const nlohmann::json& d,
                   std::chrono::system_clock::time_point now) {
  const auto& st = Member(d, "status");
  const auto& spec = Member(d, "spec");
  const auto& metadata = Member(d, "metadata");
  std::fprintf(out, "Name:         %s\n", metadata.value("name", "").c_str());
  std::fprintf(out, "Namespace:    %s\n", metadata.value("namespace", "").c_str());
  std::fprintf(out, "Runtime:      %s\n", spec.value("runtime", "").c_str());
  std::fprintf(out, "Image:        %s\n", st.value("image", "").c_str());
  std::fprintf(out, "Generation:   %lld\n", static_cast<long long>(st.value("generation", 0)));
  PrintPhase(out, st, now);
  int paused = st.value("pausedReplicas", 0);
  std::string ready =
      paused > 0 ? fmt::format("{} ready ({} paused)", st.value("readyReplicas", 0), paused)
                 : fmt::format("{} ready", st.value("readyReplicas", 0));
  std::fprintf(out, "Replicas:     %s, %d starting, %d in flight, %d queued\n", ready.c_str(),
               st.value("startingReplicas", 0), st.value("inFlight", 0), st.value("queued", 0));
  if (st.contains("keepAlive")) {
    std::fprintf(out, "Keep-alive:   %s\n", st.value("keepAlive", "").c_str());
  }
  std::fprintf(out, "Created:      %s\n", st.value("createdAt", "").c_str());
  std::fprintf(out, "Updated:      %s\n", st.value("updatedAt", "").c_str());
  std::fprintf(out, "Last call:    %s\n",
               st.contains("lastInvocation") && st["lastInvocation"].is_string()
                   ? st["lastInvocation"].get<std::string>().c_str()
                   : "never");
  if (!st.value("lastError", "").empty()) {
    std::fprintf(out, "Last error:   %s\n", st.value("lastError", "").c_str());
  }
  std::fprintf(out, "Spec:\n");
  for (const auto& [k, v] : spec.items()) {
    if (!v.is_null()) {
      std::fprintf(out, "  %s: %s\n", k.c_str(),
                   v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
  }
  const auto& replicas = Member(st, "replicas");
  if (replicas.is_array() && !replicas.empty()) {
    Table table({{"ID", 14}, {"GEN", 4}, {"STATE", 9}, {"INFLIGHT", 9}, {"STARTED", 0}}, "  ");
    std::fprintf(out, "Replica list:\n%s", table.Header().c_str());
    for (const auto& r : replicas) {
      if (!r.is_object()) continue;
      std::fputs(table
                     .Row({r.value("id", ""), std::to_string(r.value("generation", 0)),
                           r.value("state", ""), std::to_string(r.value("inFlight", 0)),
                           r.value("startedAt", "")})
                     .c_str(),
                 out);
    }
  }
  if (const auto& events = Member(st, "events"); events.is_array()) PrintEvents(out, events, now);
}

int RunDescribe(const DescribeFlags& f, const CommandContext& ctx) {
  if (IsInvocationKind(f.kind)) return RunDescribeInvocation(f.ns, f.name, f.output, ctx);
  ApiClient api = ctx.Client();
  auto r = CheckedCall(api, "describe", "GET",
                       fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", f.ns, f.name));
  if (!r) return ctx.Fail(r.error().message());
  if (!PrintStructured(ctx.out, r->Json(), f.output)) {
    PrintDescribe(ctx.out, r->Json(), ctx.clock->Wall());
  }
  return 0;
}

}  // namespace

void AddDescribeCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<DescribeFlags>();
  CLI::App* cmd = app.add_subcommand("describe", "show a function: spec, status, replicas, errors");
  cmd->add_option("kind", f->kind, "function")
      ->required()
      ->check(CLI::IsMember({"function", "functions", "fn", "invocation", "invocations", "inv"}));
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_option("-o,--output", f->output, "json or yaml")->check(CLI::IsMember({"json", "yaml"}));
  cmd->callback([f, &ctx] { ctx.exit_code = RunDescribe(*f, ctx); });
}

}  // namespace gantry::cli
