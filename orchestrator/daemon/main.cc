// gantryd: the controller. Wires the modules together; holds no logic of its own.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"gantryd: the Gantry controller (API, invoke gateway, builder, warm pool)", "gantryd"};
  app.set_version_flag("--version", std::string("gantryd ") + std::string(gantry::core::kVersion));
  CLI11_PARSE(app, argc, argv);
  std::fprintf(stderr, "gantryd: the controller is not implemented yet (see issue 6)\n");
  return 1;
}
