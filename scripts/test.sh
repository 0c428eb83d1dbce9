#!/usr/bin/env bash
# Runs every lockscope check on a fresh machine: it installs what it needs
# (Go modules, staticcheck, npm packages, Debian's chromium, Node 24 and
# code-server for the real-VS-Code suite), then gofmt, go vet, staticcheck,
# the whole Go suite under the race detector (end-to-end tests with real
# Delve included), the extension's type check, lint, format check and unit
# tests, the VSIX build, and the end-to-end suite in a real VS Code.
# The README's test command, and what .ci/run calls.
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

step "go vet and go build for macOS and Windows"
# lockscope dap and analyze must build everywhere Delve runs; the capture
# agent's named pipe, process groups and the like are Linux/Unix only and
# say so at run time. Cross-checking costs about 25 s a system on 2 busy
# cores (vet 4-7 s, build 14-20 s, measured 2026-12-01).
for goos in darwin windows; do
  GOOS=$goos go vet ./...
  GOOS=$goos go build ./...
done

step "staticcheck"
"$tools/staticcheck" ./...

step "go test -race"
set +e
go test -race -count=1 -timeout 45m ./... 2>&1 | tee "$root/.test-output.txt"
status=${PIPESTATUS[0]}
set -e
# A line that names every package outcome, for whoever reads the log last.
passed=$(grep -c '^ok ' "$root/.test-output.txt" || true)
failed=$(grep -c $'^FAIL\t' "$root/.test-output.txt" || true)
rm -f "$root/.test-output.txt"
echo "Go packages: $passed passed, $failed failed"
if [ "$status" -ne 0 ]; then
  exit "$status"
fi

step "go fuzz (a fixed number of inputs a target)"
# A short run of each fuzz target on top of its seeds: DAP framing, the
# profile loader, the trace analyser, the crash and race parsers, the
# goroutine dump parser and the saved-capture reader. A
# failure leaves its input in the package's testdata/fuzz to reproduce.
# Each target runs a number of inputs (a few seconds here), not a duration: a
# duration races Go 1.26's fuzz coordinator at its deadline, which fails
# the target with "context deadline exceeded" and no input
# (golang/go#75804, fixed in Go 1.27).
for target in transport:FuzzReader:20000 profiles:FuzzParse:30000 profiles:FuzzAnalyzeBytes:6000 \
  tracechain:FuzzAnalyze:300 crashrace:FuzzParseCrash:60000 crashrace:FuzzRaceParser:5000 \
  stuck:FuzzParseDump:150000 pipeline:FuzzReadCapture:30000; do
  IFS=: read -r pkg name count <<<"$target"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "${count}x" "./internal/${pkg}"
done

step "npm ci"
command -v npm >/dev/null || { echo "npm is not installed (Node.js 20 or later is needed)" >&2; exit 1; }
npm ci --no-audit --no-fund

step "extension: tsc (strict), eslint, prettier"
npx --no-install tsc -p . --noEmit
npx --no-install eslint extension
npx --no-install prettier --check .

step "extension: unit tests"
npm run --silent test:unit

step "extension: VSIX"
vsix=$(./scripts/vsix.sh)
# The VSIX must carry the adapter with its run bit (unzip -Z prints modes).
python3 - "$vsix" <<'PY'
import stat, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
info = z.getinfo('extension/extension/bin/lockscope')
mode = info.external_attr >> 16
assert mode & stat.S_IXUSR, f'lockscope in the VSIX is not executable (mode {oct(mode)})'
for need in ('extension/package.json', 'extension/dist/extension.js', 'extension/extension/media/heat-holder-4-dark.svg'):
    z.getinfo(need)
print(f'{sys.argv[1]}: {len(z.namelist())} files, adapter mode {oct(mode)}')
PY

step "extension: real VS Code (code-server in Chromium)"
./scripts/test-vscode.sh
