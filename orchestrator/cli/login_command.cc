#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace gantry::cli {
namespace {

struct LoginFlags {
  std::string server;
  std::string token;
  std::string token_file;
};

int RunLogin(const LoginFlags& f, const CommandContext& ctx) {
  ClientConfig c{.server = f.server, .token = f.token};
  if (!f.token_file.empty()) {
    std::ifstream in(f.token_file);
    if (!in || !std::getline(in, c.token) || c.token.empty()) {
      return ctx.Fail(fmt::format("gantry login: cannot read a token from {}", f.token_file));
    }
  }
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  ApiClient api(c, ctx.send);
  // The token must open a management call, not just reach the server.
  auto r = CheckedCall(api, "login", "GET", "/apis/gantry/v1/functions");
  if (!r) return ctx.Fail(r.error().message());
  std::string path = ConfigPath(ctx.sources);
  if (auto s = WriteConfigFile(path, c); !s) {
    return ctx.Fail(fmt::format("gantry login: {}", s.error().message()));
  }
  std::fprintf(ctx.out, "logged in to %s (saved in %s)\n", c.server.c_str(), path.c_str());
  return 0;
}

}  // namespace

void AddLoginCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<LoginFlags>();
  CLI::App* cmd =
      app.add_subcommand("login", "check a server and token, and remember them in the config file");
  cmd->add_option("--server", f->server, "gantryd's URL")->required();
  auto* token = cmd->add_option("--token", f->token, "the token");
  auto* file = cmd->add_option("--token-file", f->token_file, "read the token from this file");
  token->excludes(file);
  cmd->callback([f, &ctx] { ctx.exit_code = RunLogin(*f, ctx); });
}

}  // namespace gantry::cli
