// gantry: the kubectl-style command-line client of gantryd.
#include <CLI/CLI.hpp>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/validate_command.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"gantry: deploy and call functions on a Gantry controller", "gantry"};
  app.set_version_flag("--version", std::string("gantry ") + std::string(gantry::core::kVersion));
  app.require_subcommand(0, 1);
  int exit_code = 0;
  // Global flags (--server, --token) are accepted after the verb too, as kubectl's are.
  app.fallthrough();
  gantry::cli::ClientConfig flags;
  gantry::cli::AddClientFlags(app, flags);
  gantry::cli::AddApplyCommand(app, flags, exit_code);
  gantry::cli::AddGetCommand(app, flags, exit_code);
  gantry::cli::AddDeleteCommand(app, flags, exit_code);
  gantry::cli::AddInvokeCommand(app, flags, exit_code);
  gantry::cli::AddMoreCommands(app, flags, exit_code);
  gantry::cli::AddValidateCommand(app, exit_code);
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
  return exit_code;
}
