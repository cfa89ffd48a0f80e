// gantry: the kubectl-style command-line client of gantryd. Only wires: the verbs are in
// <verb>_command.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"gantry: deploy and call functions on a Gantry controller", "gantry"};
  app.set_version_flag("--version", std::string("gantry ") + std::string(gantry::core::kVersion));
  app.require_subcommand(0, 1);
  // Global flags (--server, --token) are accepted after the verb too, as kubectl's are.
  app.fallthrough();
  gantry::cli::CommandContext ctx;
  gantry::cli::AddClientFlags(app, ctx.flags);
  gantry::cli::AddCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; every real usage error exits 2.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (argc == 1) {
    std::fputs(app.help().c_str(), stdout);
    return 2;
  }
  return ctx.exit_code;
}
