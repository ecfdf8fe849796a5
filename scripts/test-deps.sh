#!/usr/bin/env bash
# Installs the system components the test suite starts for real (DEVELOPERS: platform protectors are
# tested against the real component): PostgreSQL 15, SoftHSM2, swtpm + tpm2-tools, gnome-keyring
# under D-Bus, OpenSSL, ssh-keygen / ssh-add and git (SSH commit signing) for interop checks, zbarimg
# for QR codes, zsh and fish for the CLI's completion scripts. Needs root for apt-get; a non-root run
# only reports what is missing.
set -euo pipefail

packages=(postgresql-15 softhsm2 swtpm swtpm-tools tpm2-tools gnome-keyring dbus dbus-daemon libsecret-tools openssl openssh-client procps zbar-tools git zsh fish)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "test-deps: all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing ${missing[*]}; run this script as root (or install them with apt-get)" >&2
  exit 1
fi

echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "test-deps: done"
