#!/bin/sh
# record.sh NAME: builds /work/main/testdata/NAME with an overlay that adds
# agent.go and a main.go whose func main defers lockscopeWriteProfiles (same
# line numbers), runs it, and leaves mutex.pb.gz/block.pb.gz in /tmp/prof/out/NAME.
set -e
name=$1
src=/work/main/testdata/$name
out=/tmp/prof/out/$name
mkdir -p $out
sed 's/^func main() {$/func main() { defer lockscopeWriteProfiles()/' $src/main.go > /tmp/prof/$name-main.go
grep -q 'defer lockscopeWriteProfiles' /tmp/prof/$name-main.go
cat > /tmp/prof/$name-overlay.json <<J
{"Replace": {"$src/main.go": "/tmp/prof/$name-main.go", "$src/lockscope_agent.go": "/tmp/prof/agent.go"}}
J
cd /work/main
go build ${BUILDFLAGS:+"$BUILDFLAGS"} -overlay /tmp/prof/$name-overlay.json -o /tmp/prof/$name.bin ./testdata/$name
shift
LOCKSCOPE_OUT=$out /tmp/prof/$name.bin "$@"
