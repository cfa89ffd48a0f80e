// gantry: the kubectl-style command-line client of gantryd.
#include <CLI/CLI.hpp>

#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"gantry: deploy and call functions on a Gantry controller", "gantry"};
  app.set_version_flag("--version", std::string("gantry ") + std::string(gantry::core::kVersion));
  app.require_subcommand(0);
  CLI11_PARSE(app, argc, argv);
  if (argc == 1) {
    std::fputs(app.help().c_str(), stdout);
    return 2;
  }
  return 0;
}
