#pragma once

#include <CLI/CLI.hpp>

namespace gantry::cli {

// Registers `gantry validate -f PATH... [-R] [-o text|json] [--secret-check MODE]` on
// `app`. When the sub-command runs it stores its exit code in `exit_code`: 0 when every
// object is valid (one summary line per object on stdout), 1 when anything is wrong (every
// error on stderr, or everything as JSON on stdout with -o json). Usage errors are CLI11's
// and main's to report (exit 2). `exit_code` must outlive `app`.
void AddValidateCommand(CLI::App& app, int& exit_code);

}  // namespace gantry::cli
