#!/usr/bin/env bash
# The README's first command: installs Coffer, creates a keystore on the embedded default (SQLite in
# $COFFER_HOME, passphrase protector) on the first run, starts the daemon on a Unix socket and unlocks
# it. The passphrase comes from COFFER_PASSPHRASE or a hidden prompt. The admin token is saved (0600)
# in $COFFER_HOME/admin.token, like ~/.vault-token, so the commands shown at the end work at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_HOME="${COFFER_HOME:-$HOME/.coffer}"
[ -f dist/cli/main.js ] && [ -d node_modules ] || npm ci --no-audit --no-fund
coffer() { node "$PWD/dist/cli/main.js" "$@"; }

store="sqlite:$COFFER_HOME/keystore.db"
socket="$COFFER_HOME/run/coffer.sock"
if [ -z "${COFFER_PASSPHRASE:-}" ] && [ -t 0 ]; then
  read -r -s -p "Passphrase for the keystore: " COFFER_PASSPHRASE; echo
fi
export COFFER_PASSPHRASE
mkdir -p -m 700 "$COFFER_HOME"
if [ ! -f "$COFFER_HOME/keystore.db" ]; then
  umask 077
  coffer init --store "$store" --json | node -e '
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => process.stdout.write(JSON.parse(s).adminToken));
  ' > "$COFFER_HOME/admin.token"
  echo "Created the keystore in $COFFER_HOME (admin token in $COFFER_HOME/admin.token)."
fi
mkdir -p -m 700 "$COFFER_HOME/run"
coffer serve --store "$store" --socket "$socket" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon' INT TERM
for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
COFFER_SOCKET="$socket" coffer unlock
cat <<MSG

Coffer is running on $socket (stop it with Ctrl-C). In another shell:

  alias coffer="node $PWD/dist/cli/main.js"
  export COFFER_SOCKET=$socket COFFER_TOKEN=\$(cat $COFFER_HOME/admin.token)
  KEY=\$(coffer key create --app demo --purpose docs --alg ed25519)
  coffer sign "\$KEY" --in README.md --out README.sig
  coffer verify "\$KEY" --sig README.sig --in README.md && echo valid
MSG
wait $daemon
