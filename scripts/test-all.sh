#!/usr/bin/env bash
# The README's second command: installs what the tests need (system packages when run as root,
# npm packages, the Node 24 binary) and runs the whole suite with `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then bash scripts/test-deps.sh; else bash scripts/test-deps.sh || true; fi
npm ci --no-audit --no-fund
bash scripts/node24.sh
npm test
