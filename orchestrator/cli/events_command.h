#pragma once

#include <string>

#include "cli/command_context.h"

// Triggers, topics and dead letters on the CLI: the `get` kinds (get_command.cc hands them
// over) and the verbs `publish` and `replay` (commands.h).
namespace gantry::cli {

// triggers (trigger), topics (topic), deadletters (deadletter, dlq).
bool IsEventKind(const std::string& kind);

// gantry get triggers [-n NS | -A] [-o json|yaml]: FUNCTION, TYPE, SCHEDULE (the cron and
// its zone, or the topic), MISSED, LAST FIRE, NEXT FIRE. gantry get topics: TOPIC,
// SUBSCRIBERS, TOKEN. gantry get deadletters [-n NS | -A]: ID, FUNCTION, SOURCE, STATUS,
// ATTEMPTS, FAILED, ERROR. Returns the exit code.
int RunGetEvents(const std::string& kind, const std::string& ns, bool all_namespaces,
                 const std::string& output, const CommandContext& ctx);

}  // namespace gantry::cli
