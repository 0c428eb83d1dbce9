#!/bin/sh
# record.sh re-records the runtime texts that internal/crashrace's tests read.
# Run it from the repository root: sh testdata/crashrace/record.sh
# Every file is real output of the Go toolchain on the fixtures; nothing is
# edited by hand. Paths in them are absolute paths of the machine that
# recorded them, so tests compare by module-relative path.
set -u
out=testdata/crashrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Plain `go run`, as a person would: stderr only, with go run's own
# "exit status 2" line after the dump.
for p in crashmap crashread crashiter; do
	go run ./testdata/$p -d 20s 2>"$out/$p.txt" >/dev/null
done

# The same crash under every GOTRACEBACK level.
go build -o "$tmp/crashmap" ./testdata/crashmap
for tb in none single all system crash; do
	GOTRACEBACK=$tb "$tmp/crashmap" -d 20s 2>"$out/crashmap-gotraceback-$tb.txt" >/dev/null
done

# Built the way Delve builds (no optimisation, no inlining): no "(...)" frames.
go build -gcflags='all=-N -l' -o "$tmp/crashmap-noopt" ./testdata/crashmap
"$tmp/crashmap-noopt" -d 20s 2>"$out/crashmap-noopt.txt" >/dev/null
go build -gcflags='all=-N -l' -o "$tmp/crashiter-noopt" ./testdata/crashiter
"$tmp/crashiter-noopt" -d 20s 2>"$out/crashiter-noopt.txt" >/dev/null

# -trimpath: module-relative paths, and "runtime/panic.go" for the runtime.
go build -trimpath -o "$tmp/crashmap-trim" ./testdata/crashmap
"$tmp/crashmap-trim" -d 20s 2>"$out/crashmap-trimpath.txt" >/dev/null

# Race reports. racymap: stdout and stderr together, as a terminal shows them.
go run -race ./testdata/racymap >"$out/racymap-race.txt" 2>&1
# crashread and crashiter under -race: race reports, then the fatal error.
GORACE=halt_on_error=0 go run -race ./testdata/crashread -d 20s >"$out/crashread-race.txt" 2>&1
GORACE=halt_on_error=0 go run -race ./testdata/crashiter -d 20s >"$out/crashiter-race.txt" 2>&1

# What Delve's DAP server sends when the debuggee stops on a fatal throw
# (delve-*.json) comes from a live, in-process Delve session:
go test ./internal/crashrace -run TestDelveFatalThrow -args -update
exit 0
