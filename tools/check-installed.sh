#!/usr/bin/env bash
# Checks the installed package with plain tshark (no wrapper, no plugin folder of the build):
#   tools/check-installed.sh present   the plugin loads from the global plugin folder and
#                                      decrypts a bundled tunnel; the key-log helper is found
#                                      by LD_PRELOAD=libspiped-keylog.so
#   tools/check-installed.sh absent    after removal: neither file is left, tshark lists no plugin
# Run it as an ordinary user: that is who must get the plugin without doing anything.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:?usage: check-installed.sh present|absent}
pkg=redis-spiped-wireshark
ver=$(tshark --version | sed -n '1s/.*Wireshark) \([0-9]*\.[0-9]*\).*/\1/p')
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
plugin=/usr/lib/$multiarch/wireshark/plugins/$ver/epan/redis_spiped.so
helper=/usr/lib/$multiarch/libspiped-keylog.so
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
fail() { echo "check-installed: $*" >&2; exit 1; }

HOME=$home tshark -G plugins >"$home/plugins" 2>"$home/err" || fail "tshark -G plugins failed: $(cat "$home/err")"
case $want in
present)
    [ -f "$plugin" ] || fail "$plugin is not installed"
    [ -f "$helper" ] || fail "$helper is not installed"
    grep -qE "^redis_spiped\.so\s.*\sdissector\s+$plugin\$" "$home/plugins" ||
        fail "tshark does not list $plugin as a dissector plugin: $(cat "$home/plugins")"
    [ ! -s "$home/err" ] || fail "tshark -G plugins wrote to stderr: $(cat "$home/err")"
    # a tunnel decrypted by the installed plugin, read as this user from a private copy
    cp test-captures/spiped-fast.pcap test-captures/spiped-test.key "$home/"
    cmds=$(HOME=$home tshark -r "$home/spiped-fast.pcap" -o "spiped.key_file:$home/spiped-test.key" \
        -Y resp.request -T fields -e resp.command | sort -u | tr '\n' ' ')
    [[ " $cmds" == *" SET "* && " $cmds" == *" GET "* ]] || fail "no decrypted SET/GET: $cmds"
    out=$(LD_PRELOAD=libspiped-keylog.so /bin/true 2>&1)
    [ -z "$out" ] || fail "LD_PRELOAD=libspiped-keylog.so: $out"
    echo "check-installed: $plugin loaded by tshark $ver as $(id -un); decrypted: $cmds; helper $helper found by name"
    ;;
absent)
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" && fail "$pkg is still installed"
    [ ! -e "$plugin" ] || fail "$plugin is left behind"
    [ ! -e "$helper" ] || fail "$helper is left behind"
    ! grep -q redis_spiped "$home/plugins" || fail "tshark still lists the plugin"
    echo "check-installed: $pkg removed; no file left; tshark $ver lists no plugin of ours"
    ;;
*) fail "usage: check-installed.sh present|absent" ;;
esac
