#!/usr/bin/env bash
# gantry validate as CI runs it: exit codes 0 (valid), 1 (invalid), 2 (usage), the
# one-line summaries, every error, JSON output, stdin.
#   validate_cli_test.sh GANTRY_BINARY TESTDATA_MANIFESTS_DIR
set -uo pipefail
gantry=$1
data=$2
failures=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# expect NAME CODE ARGS...: runs gantry ARGS, checks the exit code; output in $out/NAME.*
expect() {
  local name=$1 code=$2
  shift 2
  "$gantry" "$@" >"$out/$name.out" 2>"$out/$name.err" <"${STDIN:-/dev/null}"
  local got=$?
  if [[ $got != "$code" ]]; then
    echo "FAIL $name: exit $got, want $code"; cat "$out/$name.out" "$out/$name.err"
    failures=$((failures + 1))
  fi
}
# contains NAME STREAM TEXT: $out/NAME.STREAM contains TEXT
contains() {
  if ! grep -qF -- "$3" "$out/$1.$2"; then
    echo "FAIL $1: $2 lacks: $3"; cat "$out/$1.$2"
    failures=$((failures + 1))
  fi
}

expect valid 0 validate -f "$data/valid/python3-full.yaml"
contains valid out "function default/echo valid (python3 handler.main"
[[ $(wc -l <"$out/valid.out") == 1 ]] || { echo "FAIL valid: want one line"; failures=$((failures + 1)); }

expect secrets 0 validate -f "$data/valid/secrets.yaml"
contains secrets out "secret default/db-password valid (from a literal value)"
if grep -q "hunter2" "$out/secrets.out" "$out/secrets.err"; then
  echo "FAIL secrets: the secret's value was printed"; failures=$((failures + 1))
fi

expect invalid 1 validate -f "$data/invalid/multi-doc-errors.yaml"
contains invalid err "multi-doc-errors.yaml:4:9: metadata.name:"
contains invalid err "multi-doc-errors.yaml:27:16: spec.concurrency:"
contains invalid err "gantry validate: 2 errors"

expect dir 1 validate -f "$data/invalid"
contains dir err "invalid/runtime-typo.yaml:"
contains dir err "invalid/scale-min-gt-max.yaml:"

expect json 1 validate -f "$data/invalid/scale-min-gt-max.yaml" -o json
contains json out '"valid": false'
contains json out '"path": "spec.scale.max"'

expect json-valid 0 validate -f "$data/valid/python3-full.yaml" -o json
contains json-valid out '"hash": "sha256:'

STDIN="$data/valid/exec-no-source.yaml" expect stdin 0 validate -f -
contains stdin out "<stdin>: function default/cat valid"

expect missing 1 validate -f "$data/no-such-file.yaml"
contains missing err "no-such-file.yaml: no such file or directory"

expect no-args 2 validate
expect bad-output 2 validate -f "$data/valid" -o yaml
expect bad-flag 2 validate --frobnicate
expect no-command 2

if ((failures > 0)); then
  echo "$failures failure(s)"; exit 1
fi
echo "validate CLI: all checks passed"
