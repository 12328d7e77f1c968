#!/usr/bin/env bash
# Runs the test command (`npm ci && npm test`) on another Node.js release, in a copy of this
# checkout with node_modules of its own (native modules are built for that release's ABI, against
# its headers: npm_config_nodedir). CI runs it for the newest LTS line (.ci/run).
#   scripts/test-on-node.sh 26 [vitest arguments…]
set -euo pipefail
range="${1:?usage: scripts/test-on-node.sh <major or exact version> [vitest arguments…]}"
shift
here="$(cd "$(dirname "$0")/.." && pwd)"
nodedir="$("$here/scripts/node-release.sh" "$range")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The working tree as it is (uncommitted changes included), without node_modules, dist or .git.
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work"
cd "$work"
export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
echo "test-on-node: Node.js $(node --version) in $work"
npm ci --no-audit --no-fund
if [ "$#" -gt 0 ]; then
  npm run build --silent && npx vitest run "$@"
else
  npm test
fi
