#!/bin/sh
# record.sh PROGRAM [program flags...]
#
# Records real mutex and block profiles of a testdata program without
# touching its source: `go build -overlay` adds agent.go.txt (which sets
# runtime.SetMutexProfileFraction(1) and SetBlockProfileRate(1) in an init)
# and a copy of main.go whose `func main() {` line also defers the agent's
# writer, on the same line, so every line number stays the same. The program
# runs (2s by default) and the profiles land here as PROGRAM.mutex.pb.gz and
# PROGRAM.block.pb.gz.
#
# Environment: BUILDFLAGS (e.g. '-gcflags=all=-N -l', as Delve builds),
# NAME (the output name, default PROGRAM), LOCKSCOPE_CPU=path to also write
# a CPU profile.
set -e
prog=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$root/testdata/$prog
name=${NAME:-$prog}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^func main() {$/func main() { defer lockscopeWriteProfiles()/' "$src/main.go" >"$tmp/main.go"
grep -q 'defer lockscopeWriteProfiles' "$tmp/main.go"
cp "$here/agent.go.txt" "$tmp/agent.go"
cat >"$tmp/overlay.json" <<J
{"Replace": {"$src/main.go": "$tmp/main.go", "$src/lockscope_agent.go": "$tmp/agent.go"}}
J
cd "$root"
go build ${BUILDFLAGS:+"$BUILDFLAGS"} -overlay "$tmp/overlay.json" -o "$tmp/$prog" "./testdata/$prog"
mkdir -p "$tmp/out"
LOCKSCOPE_OUT="$tmp/out" "$tmp/$prog" "$@"
cp "$tmp/out/mutex.pb.gz" "$here/$name.mutex.pb.gz"
cp "$tmp/out/block.pb.gz" "$here/$name.block.pb.gz"
