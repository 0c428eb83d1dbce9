#!/usr/bin/env bash
# Runs every lockscope check on a fresh machine: it installs what it needs
# (Go modules, staticcheck), then gofmt, go vet, staticcheck and the whole
# test suite under the race detector, end-to-end tests with real Delve
# included. The README's test command, and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n== %s\n' "$*"; }

command -v go >/dev/null || { echo "go is not installed (Go 1.26 is needed)" >&2; exit 1; }
go version

step "Go modules"
go mod download
go mod verify

step "tools"
tools="${LOCKSCOPE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lockscope-tools}"
mkdir -p "$tools"
if [ ! -x "$tools/staticcheck" ] || ! "$tools/staticcheck" -version 2>/dev/null | grep -q '0.8.2'; then
  GOBIN="$tools" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

step "gofmt"
unformatted=$(gofmt -l adapter internal testdata)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
"$tools/staticcheck" ./...

step "go test -race"
go test -race -count=1 -timeout 45m ./... 2>&1 | tee "$root/.test-output.txt"
status=${PIPESTATUS[0]}
# A line that names every package outcome, for whoever reads the log last.
passed=$(grep -c '^ok ' "$root/.test-output.txt" || true)
failed=$(grep -c '^FAIL' "$root/.test-output.txt" || true)
rm -f "$root/.test-output.txt"
echo "packages: $passed passed, $failed failed"
exit "$status"
