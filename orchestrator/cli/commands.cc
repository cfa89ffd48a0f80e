#include "cli/commands.h"

namespace gantry::cli {

void AddCommands(CLI::App& app, CommandContext& ctx) {
  AddApplyCommand(app, ctx);
  AddGetCommand(app, ctx);
  AddDeleteCommand(app, ctx);
  AddInvokeCommand(app, ctx);
  AddDescribeCommand(app, ctx);
  AddLogsCommand(app, ctx);
  AddScaleCommand(app, ctx);
  AddMapCommand(app, ctx);
  AddPublishCommand(app, ctx);
  AddReplayCommand(app, ctx);
  AddUsageCommand(app, ctx);
  AddCreateCommand(app, ctx);
  AddCompletionCommand(app, ctx);
  AddLoginCommand(app, ctx);
  AddVersionCommand(app, ctx);
  AddValidateCommand(app, ctx);
}

}  // namespace gantry::cli
