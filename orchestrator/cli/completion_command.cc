#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace gantry::cli {
namespace {

constexpr const char* kVerbs =
    "apply get describe delete invoke map publish replay logs scale usage create validate version "
    "login completion";

// Completion scripts: verbs, kinds and flags; function names come from `gantry get -o name`.
std::string BashCompletion() {
  return fmt::format(R"BASH(# gantry bash completion: source <(gantry completion bash)
_gantry() {{
  local cur prev verb
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  prev="${{COMP_WORDS[COMP_CWORD-1]}}"
  verb="${{COMP_WORDS[1]}}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "{}" -- "$cur") ); return
  fi
  case "$prev" in
    -f|--filename|--token-file|--from-file) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "json yaml wide name" -- "$cur") ); return ;;
  esac
  case "$verb" in
    get|describe|delete|scale)
      if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=( $(compgen -W "functions function secrets" -- "$cur") ); return; fi
      COMPREPLY=( $(compgen -W "$(gantry get functions -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ) ;;
    invoke|logs)
      COMPREPLY=( $(compgen -W "$(gantry get functions -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ) ;;
    create) COMPREPLY=( $(compgen -W "secret" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
    *) COMPREPLY=( $(compgen -W "-f --filename -R --recursive --wait --timeout --dry-run -n --namespace -o --output --server --token --token-file" -- "$cur") ) ;;
  esac
}}
complete -F _gantry gantry
)BASH",
                     kVerbs);
}

}  // namespace

void AddCompletionCommand(CLI::App& app, CommandContext& ctx) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "print a shell completion script (bash or zsh)");
  cmd->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  cmd->callback([shell, &ctx] {
    if (*shell == "zsh") {
      // zsh runs the bash script through its bash-completion emulation.
      std::fprintf(ctx.out,
                   "# gantry zsh completion: source <(gantry completion zsh)\n"
                   "autoload -U +X bashcompinit && bashcompinit\n");
    }
    std::fputs(BashCompletion().c_str(), ctx.out);
    ctx.exit_code = 0;
  });
}

}  // namespace gantry::cli
