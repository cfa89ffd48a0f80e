#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace gantry::cli {
namespace {

struct ScaleFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  int replicas = -1;
};

int RunScale(const ScaleFlags& f, const CommandContext& ctx) {
  ApiClient api = ctx.Client();
  auto r = CheckedCall(
      api, "scale", "PUT",
      fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}/scale", f.ns, f.name),
      nlohmann::json{{"replicas", f.replicas}}.dump(), {{"Content-Type", "application/json"}});
  if (!r) return ctx.Fail(r.error().message());
  std::fprintf(ctx.out, "function.gantry.dev/%s scaled to %d\n", f.name.c_str(), f.replicas);
  return 0;
}

}  // namespace

void AddScaleCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<ScaleFlags>();
  CLI::App* cmd = app.add_subcommand("scale", "set a function's replica count now");
  cmd->add_option("kind", f->kind, "function")
      ->required()
      ->check(CLI::IsMember({"function", "functions", "fn"}));
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_option("--replicas", f->replicas, "how many")->required()->check(CLI::NonNegativeNumber);
  cmd->callback([f, &ctx] { ctx.exit_code = RunScale(*f, ctx); });
}

}  // namespace gantry::cli
