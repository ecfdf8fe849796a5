#!/usr/bin/env bash
# The README's second command: installs what the tests need — system packages (as root), npm
# packages, the Node 24 binary, the optional native addons (better-sqlite3 for the Node 20 run,
# pkcs11js for the PKCS#11 tests) — and runs the whole suite under Node 20 and Node 24 (`npm test`).
# Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
timed() {
  local started=$SECONDS
  "$@"
  echo "test-all: '$*' took $((SECONDS - started)) s"
}
if [ "$(id -u)" -eq 0 ]; then timed bash scripts/test-deps.sh; else bash scripts/test-deps.sh || true; fi
timed npm ci --no-audit --no-fund
timed bash scripts/node24.sh
# Addons are built for the Node that loads them: this one (Node 20 in CI), and a Node 20 named by
# COFFER_NODE20 when this script runs under Node 24.
timed bash scripts/addons.sh
if [ -n "${COFFER_NODE20:-}" ]; then
  PATH="$(dirname "$COFFER_NODE20"):$PATH" timed bash scripts/addons.sh better-sqlite3
fi
timed npm test
