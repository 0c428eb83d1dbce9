#!/usr/bin/env bash
# Builds the linux-x64 VSIX: the lockscope binary (with Delve embedded) in
# extension/bin/, the esbuild bundle in dist/, packaged offline by vsce.
# Prints the VSIX's path on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
out="lockscope-${version}-linux-x64.vsix"

echo "building the adapter (go build ./adapter)" >&2
mkdir -p extension/bin
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o extension/bin/lockscope ./adapter
chmod 0755 extension/bin/lockscope

echo "bundling the extension (esbuild)" >&2
node extension/build.mjs >&2

echo "packaging $out (vsce, offline)" >&2
# --no-dependencies: esbuild bundled them. The README's images are relative
# to the repository; there is no public one to rewrite them to, so keep them.
npx --no-install vsce package --no-dependencies --allow-missing-repository --skip-license \
  --no-rewrite-relative-links --target linux-x64 -o "$out" >&2
echo "$out"
