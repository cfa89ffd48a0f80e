#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

// The verbs, one file each (<verb>_command.cc). Each registers a sub-command on `app`;
// when it runs it stores its exit code in ctx.exit_code (0 ok, 1 error, 2 a usage error it
// found itself; CLI11's usage errors are main's: 2) and prints one-line errors naming the
// cause on ctx.err. `ctx` must outlive `app`.
namespace gantry::cli {

// gantry apply -f PATH... [-R] [-n NS] [--dry-run=client|server] [--wait [--timeout 2m]]:
// secrets first, then functions, one line each: "function.gantry.dev/echo
// created|configured|unchanged".
void AddApplyCommand(CLI::App& app, CommandContext& ctx);
// gantry validate -f PATH... [-R] [-o text|json] [--secret-check MODE]: 0 when every object
// is valid (one summary line per object), 1 when anything is wrong (every error on err, or
// everything as JSON on out with -o json). Needs no gantryd.
void AddValidateCommand(CLI::App& app, CommandContext& ctx);
// gantry get functions [NAME] [-n NS | -A] [-o wide|json|yaml|name] | gantry get secrets |
// gantry get invocations FN [--failed] [--limit N] [--since D] [-o wide|json|yaml]
void AddGetCommand(CLI::App& app, CommandContext& ctx);
// gantry describe function NAME [-n NS] [-o json|yaml] | gantry describe invocation ID
void AddDescribeCommand(CLI::App& app, CommandContext& ctx);
// gantry delete function NAME [-n NS] | gantry delete secret NAME [-n NS] |
// gantry delete -f PATH... [-R]
void AddDeleteCommand(CLI::App& app, CommandContext& ctx);
// gantry invoke NAME [-n NS] [-d DATA | -d @FILE | stdin] [-X METHOD] [-H "K: V"]... [-i]
// [--async [--callback URL]]
void AddInvokeCommand(CLI::App& app, CommandContext& ctx);
// gantry logs NAME [-n NS] [-f] [--since 5m] [--tail N] [-o json]
void AddLogsCommand(CLI::App& app, CommandContext& ctx);
// gantry scale function NAME [-n NS] --replicas N
void AddScaleCommand(CLI::App& app, CommandContext& ctx);
// gantry create secret NAME [-n NS] --from-literal [KEY=]VALUE | --from-file PATH
void AddCreateCommand(CLI::App& app, CommandContext& ctx);
// gantry login --server URL [--token T | --token-file F]: checks them with a management
// call, then writes the config file.
void AddLoginCommand(CLI::App& app, CommandContext& ctx);
// gantry usage [-n NS | -A] [--function FN] [--since 24h] [--until T] [--by function|hour]
// [-o json|yaml]: calls, errors, cold starts, GB-seconds and bytes, with a total
void AddUsageCommand(CLI::App& app, CommandContext& ctx);
// gantry publish TOPIC [-d DATA | -d @FILE | stdin] [--content-type T]: the event id and
// one line per delivery
void AddPublishCommand(CLI::App& app, CommandContext& ctx);
// gantry replay deadletter ID... [-n NS] | gantry replay deadletters --all [-n NS]
void AddReplayCommand(CLI::App& app, CommandContext& ctx);
// gantry map FN [-n NS] [-f inputs.jsonl | stdin] [-c 64] [-o results.jsonl | stdout]
void AddMapCommand(CLI::App& app, CommandContext& ctx);
// gantry completion bash|zsh
void AddCompletionCommand(CLI::App& app, CommandContext& ctx);
// gantry version [-o json]: the client's and the server's
void AddVersionCommand(CLI::App& app, CommandContext& ctx);

// Every verb above, in `gantry --help` order.
void AddCommands(CLI::App& app, CommandContext& ctx);

}  // namespace gantry::cli
