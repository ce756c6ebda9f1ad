#!/usr/bin/env bash
# Installs what building and testing the plugin needs on Debian 12 (as root, or via sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libglib2.0-dev libgcrypt20-dev
      wireshark-dev libwireshark-dev tshark wireshark-common
      python3-pytest python3-redis redis-server redis-tools spiped tcpdump netcat-openbsd
      util-linux time valgrind clang libclang-rt-14-dev)
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
