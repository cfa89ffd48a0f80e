#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/version.h"

namespace gantry::cli {
namespace {

int RunVersion(const std::string& output, const CommandContext& ctx) {
  ApiClient api = ctx.Client();
  auto r = CheckedCall(api, "version", "GET", "/apis/gantry/v1/version");
  nlohmann::json server = r ? r->Json() : nlohmann::json(nullptr);
  std::string client_version(core::kVersion);
  if (output == "json") {
    nlohmann::json both{{"client", {{"version", client_version}}}, {"server", server}};
    std::fprintf(ctx.out, "%s\n", both.dump(2).c_str());
  } else {
    std::fprintf(ctx.out, "Client: gantry %s\n", client_version.c_str());
    if (r) {
      const bool engine = server["engine"].is_object();
      std::fprintf(ctx.out, "Server: gantryd %s (engine %s, API %s)\n",
                   server.value("version", "").c_str(),
                   engine ? server["engine"].value("version", "").c_str() : "?",
                   engine ? server["engine"].value("apiVersion", "").c_str() : "?");
    }
  }
  if (!r) return ctx.Fail(r.error().message());
  return 0;
}

}  // namespace

void AddVersionCommand(CLI::App& app, CommandContext& ctx) {
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("version", "print the client's and the server's versions");
  cmd->add_option("-o,--output", *output, "json")->check(CLI::IsMember({"json"}));
  cmd->callback([output, &ctx] { ctx.exit_code = RunVersion(*output, ctx); });
}

}  // namespace gantry::cli
