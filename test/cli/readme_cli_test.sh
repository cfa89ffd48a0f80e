#!/usr/bin/env bash
# The README's CLI table and `gantry --help` name the same verbs.
#   readme_cli_test.sh GANTRY_BINARY README.md
set -euo pipefail
gantry=$1
readme=$2
help_verbs=$("$gantry" --help | sed -n '/^Subcommands:/,$p' | awk 'NR>1 && NF {print $1}' | sort -u)
readme_verbs=$(sed -n '/^## CLI/,/^## /p' "$readme" | grep -o '^| `gantry [a-z]*' | awk '{print $3}' | sort -u)
if [[ "$help_verbs" != "$readme_verbs" ]]; then
  echo "README's CLI table and gantry --help disagree:" >&2
  diff <(echo "$help_verbs") <(echo "$readme_verbs") | sed 's/^</  only in --help:/; s/^>/  only in README:/' >&2
  exit 1
fi
echo "README lists every verb of gantry --help: $(echo $help_verbs)"
