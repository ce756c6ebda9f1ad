#!/usr/bin/env bash
# Makes (once) and caches a bare, pristine Debian root for one release: debootstrap minbase
# with git, sudo and ca-certificates, nothing of this project. Prints the cached tarball's path.
#
#   tools/release-root.sh bookworm|trixie|sid
#
# The cache (RELEASE_ROOT_CACHE, default /var/cache/redis-spiped-roots) holds only these bare
# roots; every test run unpacks a fresh copy, so nothing the project installs is ever kept.
set -euo pipefail
suite=${1:?usage: release-root.sh SUITE}
case "$suite" in bookworm|trixie|sid) ;; *) echo "release-root.sh: unknown suite $suite" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "release-root.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
cache=${RELEASE_ROOT_CACHE:-/var/cache/redis-spiped-roots}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball="$cache/$suite.tar"
if [ -s "$tarball" ]; then
    echo "$tarball"
    exit 0
fi
command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$cache"
work=$(mktemp -d "$cache/.make-$suite.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
debootstrap --variant=minbase --include=ca-certificates,git,sudo "$suite" "$work/root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
# sid's Release file can be past its Valid-Until date on a mirror; apt would refuse to update.
if [ "$suite" = sid ]; then
    echo 'Acquire::Check-Valid-Until "false";' >"$work/root/etc/apt/apt.conf.d/99no-valid-until"
fi
rm -rf "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
echo "$tarball"
