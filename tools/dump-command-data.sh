#!/usr/bin/env bash
# Dumps the command knowledge of real servers into tools/command-data/, then writes the C
# tables from those dumps (tools/gen-command-table.py; the merge needs no server).
#
#   sudo tools/dump-command-data.sh [host] [bookworm] [trixie] [sid]   (default: all four)
#
#   host      this machine's redis-server (Debian 12: Redis 7.0.15; installed if missing)
#   bookworm  a pristine Debian 12 root with bookworm-backports: valkey-server (8.0)
#   trixie    a pristine Debian 13 root: redis-server (8.0.2) and valkey-server (8.1.1)
#   sid       a pristine Debian sid root: redis-server (8.0.6) and valkey-server (9.1.2)
#
# Every server is dumped twice, as itself and as a Sentinel (`redis-server CONF --sentinel`,
# a config that monitors nothing): COMMAND, COMMAND INFO, COMMAND DOCS and the GETKEYS /
# GETKEYSANDFLAGS answers to the test command lines, one JSON file per server
# (redis-8.0.2.json, redis-8.0.2-sentinel.json, ...).  Redis 7.2 and 7.4 are not packaged by
# Debian; the merge takes them from the newest Redis dump's COMMAND DOCS "since".
#
# The roots are fresh copies of the bare roots tools/release-root.sh caches (debootstrap
# minbase; made once, ≈ 1 min each), unpacked under DUMP_WORK (default /var/tmp), with the
# server packages installed by apt (a policy-rc.d that refuses every service start, so no
# packaged server ever runs).  The dump runs in a private network namespace: the generator on
# the host, each server chrooted into its root, on 127.0.0.1 of that namespace only; every
# server is stopped by its PID.  At the end every process left in a root is stopped, the
# mounts undone, the roots and the namespace deleted.  Needs root (chroot, mounts, netns).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "dump-command-data.sh: needs root (chroot, mounts, netns)" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(host bookworm trixie sid)
for t in "${targets[@]}"; do
    case "$t" in host|bookworm|trixie|sid) ;; *) echo "dump-command-data.sh: unknown target $t" >&2; exit 2 ;; esac
done
out="$top/tools/command-data"
gen=(/usr/bin/python3 "$top/tools/gen-command-table.py")
netns="${DUMP_NETNS_PREFIX:-cmddump-}$$"
work=""
roots=()
mounts=()
r=""
t_start=$(date +%s)

cleanup() {
    local r p mp i pids extra
    for r in "${roots[@]}"; do
        pids=()
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/root" 2>/dev/null)" = "$r" ] && pids+=("${p#/proc/}")
        done
        if [ ${#pids[@]} -gt 0 ]; then
            kill -TERM "${pids[@]}" 2>/dev/null || true
            sleep 1
            kill -KILL "${pids[@]}" 2>/dev/null || true
        fi
        extra=()
        while read -r _ mp _; do
            case "$mp" in "$r"/*) extra=("$mp" "${extra[@]}") ;; esac
        done </proc/self/mounts
        for mp in "${extra[@]}"; do
            umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
        done
    done
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
    done
    ip netns delete "$netns" 2>/dev/null || true
    if [ -n "$work" ]; then
        # never delete through a mount that is still there
        if grep -qE " $work(/| )" /proc/self/mounts; then
            echo "dump-command-data.sh: $work still has mounts; left in place" >&2
        else
            rm -rf --one-file-system "$work"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

ip netns add "$netns"
ip netns exec "$netns" ip link set lo up
in_ns() { timeout -s KILL 300 ip netns exec "$netns" "$@"; }

# dump BINARY ROOT PACKAGE: the server, then its Sentinel
dump() {
    local bin=$1 root=$2 pkg=$3 rootarg=()
    [ -z "$root" ] || rootarg=(--root "$root")
    in_ns "${gen[@]}" dump --server "$bin" "${rootarg[@]}" --port 17379 --package "$pkg" --out "$out"
    in_ns "${gen[@]}" dump --server "$bin" --sentinel "${rootarg[@]}" --port 17380 --package "$pkg" --out "$out"
}

# make_root SUITE: a fresh copy of the cached bare root, mounted for chroot, in $r
# (not run in a subshell: the cleanup needs roots[] and mounts[])
make_root() {
    local suite=$1 tarball
    tarball=$("$top/tools/release-root.sh" "$suite")
    [ -n "$work" ] || work=$(mktemp -d "${DUMP_WORK:-/var/tmp}/dump-command-data.XXXXXX")
    r="$work/$suite"
    mkdir "$r"
    roots+=("$r")
    tar -C "$r" -xf "$tarball"
    # a mount point of its own, private, so nothing mounted inside leaks out
    mount --bind "$r" "$r"
    mounts+=("$r")
    mount --make-private "$r"
    mount -t proc proc "$r/proc"
    mounts+=("$r/proc")
    mount -t sysfs sys "$r/sys"
    mounts+=("$r/sys")
    mount --bind /dev "$r/dev"
    mounts+=("$r/dev")
    mount --make-rslave "$r/dev"
    mount --bind /dev/pts "$r/dev/pts"
    mounts+=("$r/dev/pts")
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
    # packages must not start their servers (they would listen on the host's network)
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    chmod 0755 "$r/usr/sbin/policy-rc.d"
}

# install ROOT [apt-get options] PACKAGE...: apt's output goes to a log, shown on failure
install() {
    local r=$1 log="$work/apt-$(basename "$r").log"
    shift
    if ! { chroot "$r" apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive chroot "$r" apt-get install -y -qq --no-install-recommends "$@"
         } >"$log" 2>&1; then
        tail -20 "$log" >&2
        return 1
    fi
}

pkgver() { # ROOT-or-empty PACKAGE SUITE
    local v
    if [ -n "$1" ]; then v=$(chroot "$1" dpkg-query -W -f '${Version}' "$2"); else v=$(dpkg-query -W -f '${Version}' "$2"); fi
    echo "Debian $3 $2 $v"
}

for t in "${targets[@]}"; do
    t0=$(date +%s)
    case "$t" in
    host)
        if ! command -v redis-server >/dev/null; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
        fi
        suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-host}")
        dump "$(command -v redis-server)" "" "$(pkgver "" redis-server "$suite") (host)"
        ;;
    bookworm)
        make_root bookworm
        echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$r/etc/apt/sources.list.d/backports.list"
        install "$r" -t bookworm-backports valkey-server valkey-sentinel
        dump /usr/bin/valkey-server "$r" "$(pkgver "$r" valkey-server bookworm-backports)"
        ;;
    trixie | sid)
        make_root "$t"
        install "$r" redis-server redis-sentinel valkey-server valkey-sentinel
        dump /usr/bin/redis-server "$r" "$(pkgver "$r" redis-server "$t")"
        dump /usr/bin/valkey-server "$r" "$(pkgver "$r" valkey-server "$t")"
        ;;
    esac
    echo "dump-command-data: $t in $(($(date +%s) - t0)) s"
done

"${gen[@]}"
echo "dump-command-data: ${targets[*]} in $(($(date +%s) - t_start)) s"
