#!/usr/bin/env bash
# Regenerates the extension's unit-test fixtures: real reports printed by
# `lockscope analyze --json` for testdata programs, with this checkout's
# absolute path replaced by /workspace so the files do not depend on where
# the repository lives. The unit tests map /workspace back to the checkout
# and find lines by the `// lockscope:` markers in the programs, so the
# fixtures stay valid while their timings differ from run to run.
#
#   bash scripts/gen-fixtures.sh          (or: npm run fixtures)
#
# Needs Go 1.26 (it builds lockscope and the programs, one with -race).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/extension/test/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building lockscope" >&2
go build -o "$tmp/lockscope" ./adapter
mkdir -p "$out"

# fixture NAME ARGS...: runs analyze --json ARGS and writes NAME.json.
fixture() {
  local name=$1
  shift
  echo "== $name: lockscope analyze --json $*" >&2
  "$tmp/lockscope" analyze --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" || {
    echo "lockscope analyze failed for $name:" >&2
    cat "$tmp/$name.err" >&2
    exit 1
  }
  relocate "$name"
}

# relocate NAME: replaces the checkout's path in $tmp/NAME.json and
# $tmp/NAME.err (a plain string, not a pattern), checks that the report is
# still JSON, and writes both to the fixtures. stderr (progress lines mixed
# with the program's own output) is kept too, for the progress parser's
# tests.
relocate() {
  local name=$1
  node -e '
    const fs = require("fs");
    const [tmp, out, name, root] = process.argv.slice(1);
    const fix = (f) => fs.readFileSync(`${tmp}/${f}`, "utf8").split(root).join("/workspace");
    const report = fix(`${name}.json`);
    JSON.parse(report);
    fs.writeFileSync(`${out}/${name}.json`, report);
    fs.writeFileSync(`${out}/${name}.stderr.txt`, fix(`${name}.err`));
  ' "$tmp" "$out" "$name" "$root"
}

# A global map under a hot mutex, a cold lock, and a lock chain (trace).
fixture ledger --duration 2s ./testdata/ledger
# Two goroutines write one map with no lock: the crash and both writers.
fixture crashmap ./testdata/crashmap
# An RWMutex: RLock waiters, a contended write under Lock.
fixture rwcache --duration 2s ./testdata/rwcache
# Unguarded writes found by the race detector.
fixture racymap --race ./testdata/racymap
# A three-lock blocking chain.
fixture handoff --duration 2s --trace-seconds 1 ./testdata/handoff
# go test: the test function's wg.Wait shows in the trace (not a hotspot).
fixture testwait --test ./testdata/profiles/testwait
# -trimpath profiles: module-relative paths (github.com/lockscope/lockscope/...).
fixture ledger-trimpath --mutex testdata/profiles/ledger-trimpath.mutex.pb.gz --block testdata/profiles/ledger-trimpath.block.pb.gz
# A trace recorded outside the module: paths like handoff/main.go.
fixture handoff-trace --trace testdata/traces/handoff.trace
# Two locks taken in both orders (in phases, so it never deadlocks): the
# waits-for graph's lock-order cycle.
fixture inversion --duration 2s --trace-seconds 1 ./internal/graph/testdata/inversion

# Locks outside the user's code: log.Logger's lock charged to the user's
# Printf line (via), and golang-lru's locks with the user's call sites
# (callSite) and queues on one lock (queue).
fixture logjam --duration 2s ./testdata/logjam
fixture lrucache --duration 2s ./testdata/lrucache
# Map writes in helpers called with the lock held (guardedVia), and one
# helper with a caller that forgot the lock (sometimesUnguarded).
fixture lockedhelpers --duration 2s ./testdata/lockedhelpers
# A lock-order deadlock: the stuck and deadlocks sections (the agent steps
# aside, the runtime ends the program, analyze reads its last goroutine dump).
fixture deadlock ./testdata/stuck/deadlock

# The waits-for graphs of these reports are goldens that internal/graph
# (Go) and extension/src/logic/graph.ts (TypeScript) must both produce.
echo "== internal/graph: rewriting the graph goldens" >&2
go test -count=1 -run '^TestGoldens$' ./internal/graph -update >&2

echo "wrote $(ls "$out"/*.json | wc -l) reports to ${out#"$root"/}" >&2
