#pragma once

#include <CLI/CLI.hpp>

#include "cli/api_client.h"

// The verbs that talk to gantryd. Each registers a sub-command on `app`; when it runs it
// stores its exit code in `exit_code` (0 ok, 1 error; usage errors are CLI11's: 2) and
// prints one-line errors naming the cause. `flags` holds the global --server/--token
// options; both must outlive `app`.
namespace gantry::cli {

// gantry apply -f PATH... [-R] [--dry-run=client|server]: secrets first, then functions,
// one line each: "function.gantry.dev/echo created|configured|unchanged".
void AddApplyCommand(CLI::App& app, const ClientConfig& flags, int& exit_code);
// gantry delete function NAME [-n NS] | gantry delete secret NAME [-n NS] | gantry delete -f
// PATH... [-R]
void AddDeleteCommand(CLI::App& app, const ClientConfig& flags, int& exit_code);
// gantry get functions [NAME] [-n NS | -A] [-o wide|json|name]
void AddGetCommand(CLI::App& app, const ClientConfig& flags, int& exit_code);
// gantry invoke NAME [-n NS] [-d DATA | -d @FILE | stdin] [-X METHOD] [-H "K: V"]... [-i]
void AddInvokeCommand(CLI::App& app, const ClientConfig& flags, int& exit_code);

// describe function NAME, logs NAME [-f] [--since 5m] [--tail N], scale function NAME
// --replicas N, create secret NAME --from-literal|--from-file, version.
void AddMoreCommands(CLI::App& app, const ClientConfig& flags, int& exit_code);

}  // namespace gantry::cli
