#!/usr/bin/env bash
# The extension's end-to-end suite in a real VS Code: code-server 4.139.1
# driven in Debian's Chromium by playwright-core (extension/test/e2e).
# Installs what it needs (scripts/setup-vscode.sh, cached), builds the VSIX
# (scripts/vsix.sh), installs it into a fresh extensions folder, and runs the
# scenarios with node --test. Assumes `npm ci` ran and Go is installed.
#
# Screenshots (one per step) and each scenario's code-server log go to
# .e2e-output/<scenario>/. Every process the run starts is ended at the end;
# anything found still running in /proc is killed by its pid and reported.
#
#   scripts/test-vscode.sh                 # every scenario
#   scripts/test-vscode.sh --test-name-pattern=crash   # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/.e2e-output"

say() { printf 'test-vscode: %s\n' "$*" >&2; }

t=$SECONDS
eval "$(./scripts/setup-vscode.sh)"
say "setup: $((SECONDS - t)) s"
export LOCKSCOPE_NODE24 LOCKSCOPE_CODE_SERVER LOCKSCOPE_CHROMIUM

t=$SECONDS
vsix=$(./scripts/vsix.sh)
say "VSIX $vsix: $((SECONDS - t)) s"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-e2e.XXXXXX")
# leftovers lists the pids whose exe, cwd or command line names the scratch
# folder: this run's code-server, Chromium, adapters and debuggees.
leftovers() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    if { readlink "$d/exe" 2>/dev/null; readlink "$d/cwd" 2>/dev/null; tr '\0' ' ' 2>/dev/null <"$d/cmdline"; } 2>/dev/null |
      grep -qF "$scratch"; then
      echo "$pid"
    fi
  done
}
cleanup() {
  local status=$? pids pid
  pids=$(leftovers || true)
  if [ -n "$pids" ]; then
    say "processes left running (killing them):"
    for pid in $pids; do
      ps -o pid=,args= -p "$pid" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
    done
    status=1
  fi
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    say "FAILED: screenshots and code-server logs are in $out/"
  fi
  exit "$status"
}
trap cleanup EXIT

rm -rf "$out"
mkdir -p "$out"

# A fresh extensions folder holding only lockscope, installed the way a user
# installs a VSIX. XDG_* keep code-server out of the home folder.
mkdir -p "$scratch/install/xdg"
XDG_CONFIG_HOME="$scratch/install/xdg" XDG_DATA_HOME="$scratch/install/xdg" XDG_CACHE_HOME="$scratch/install/xdg" \
  EXTENSIONS_GALLERY='{}' PATH="$LOCKSCOPE_NODE24/bin:$PATH" \
  node "$LOCKSCOPE_CODE_SERVER" --user-data-dir "$scratch/install/user-data" --extensions-dir "$scratch/extensions" \
  --install-extension "$root/$vsix" --force >"$out/install-extension.log" 2>&1 || {
  cat "$out/install-extension.log" >&2
  exit 1
}
adapter=$(find "$scratch/extensions" -path '*/extension/bin/lockscope' -type f)
if [ -z "$adapter" ] || [ ! -x "$adapter" ]; then
  say "the installed extension has no executable adapter (extension/bin/lockscope)"
  exit 1
fi

t=$SECONDS
LOCKSCOPE_E2E_EXTENSIONS="$scratch/extensions" LOCKSCOPE_E2E_SCRATCH="$scratch" LOCKSCOPE_E2E_OUTPUT="$out" \
  node --test --test-reporter=spec --test-concurrency=1 "$@" extension/test/e2e/vscode.test.mjs
say "browser part: $((SECONDS - t)) s"
