#!/usr/bin/env bash
# Installs what building, testing and packaging the plugin needs on Debian 12, 13 or sid (as
# root, or via sudo). Each release brings its own Wireshark (4.0, 4.4, 4.6).
set -euo pipefail
pkgs=(build-essential dpkg-dev cmake pkg-config libglib2.0-dev libgcrypt20-dev
      wireshark-dev libwireshark-dev tshark wireshark-common
      python3-pytest python3-redis redis-server redis-tools spiped tcpdump netcat-openbsd
      util-linux iproute2 time valgrind clang libclang-rt-dev tcl)
# Valkey, the live tests' second server, is in Debian's main archive from 13 on (12 has it only
# in bookworm-backports, which a newcomer's machine does not list).
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || pkgs+=(valkey-server valkey-tools)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
