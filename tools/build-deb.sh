#!/usr/bin/env bash
# Builds the Debian package of the plugin for the Wireshark release this machine has:
#   build/deb/redis-spiped-wireshark_<version>+ws<major>.<minor>_<arch>.deb
# It installs the plugin into Wireshark's global plugin folder (so plain tshark and wireshark
# load it for every user) and libspiped-keylog.so into the library path (so that
# LD_PRELOAD=libspiped-keylog.so finds it by name). It depends on this release's libwireshark,
# no older and no newer minor release: a plugin loads only into the major.minor it was built for.
#
#   tools/build-deb.sh            (uses ./build, BUILD_DIR to change; builds it if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -f "$build/CMakeCache.txt" ] || tools/build.sh
cmake --build "$build" -j"$(nproc)" --target redis_spiped spiped-keylog >/dev/null
if grep -q __asan_report "$build"/plugins/*/epan/redis_spiped.so; then
    echo "build-deb: $build holds a sanitized build; package a normal one" >&2
    exit 2
fi
for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (Debian: apt-get install dpkg-dev)" >&2; exit 2; }
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
ws=$(basename "$(dirname "$(ls -d "$build"/plugins/*/epan)")") # major.minor the plugin is for
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
pkgver="$version+ws$ws"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage/root" cmake --install "$build" --component Runtime >/dev/null
find "$stage/root" -type f -name '*.so' -exec strip --strip-unneeded {} +

# Depends: what the libraries link against (dpkg-shlibdeps), plus an upper bound on
# libwireshark so that the package never sits beside a Wireshark that would refuse it.
mkdir -p "$stage/debian"
printf 'Source: redis-spiped-wireshark\n\nPackage: redis-spiped-wireshark\nArchitecture: any\n' >"$stage/debian/control"
mapfile -t libs < <(find "$stage/root" -type f -name '*.so')
deps=$(cd "$stage" && dpkg-shlibdeps -O "${libs[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
libws=$(printf '%s\n' "$deps" | tr ',' '\n' | sed -n 's/^ *\(libwireshark[0-9a-z]*\).*/\1/p' | head -1)
[ -n "$libws" ] || { echo "build-deb: no libwireshark dependency found ($deps)" >&2; exit 1; }
major=${ws%.*}
minor=${ws#*.}
deps="$deps, $libws (>= $major.$minor~), $libws (<< $major.$((minor + 1))~)"

mkdir -p "$stage/root/DEBIAN" "$stage/root/usr/share/doc/redis-spiped-wireshark"
cp README.md "$stage/root/usr/share/doc/redis-spiped-wireshark/"
size=$(du -sk --exclude=DEBIAN "$stage/root" | cut -f1)
cat >"$stage/root/DEBIAN/control" <<EOF
Package: redis-spiped-wireshark
Version: $pkgver
Architecture: $arch
Maintainer: redis-spiped-wireshark developers <redis-spiped-wireshark@localhost>
Installed-Size: $size
Depends: $deps
Recommends: tshark | wireshark
Section: net
Priority: optional
Description: Redis (RESP2, RESP3, inline) and spiped dissectors for Wireshark $ws
 A Wireshark plugin that decodes Redis traffic as a protocol tree with
 request/response pairing, and spiped tunnels: handshake, records and, given
 the key file (and a key log for forward-secret sessions), the decrypted
 stream. Also ships libspiped-keylog.so, an LD_PRELOAD helper that writes the
 key log of forward-secret spiped sessions.
EOF
mkdir -p "$build/deb"
out="$build/deb/redis-spiped-wireshark_${pkgver}_$arch.deb"
rm -f "$build"/deb/*.deb
dpkg-deb --root-owner-group --build "$stage/root" "$out" >/dev/null
echo "$out"
echo "  Depends: $(dpkg-deb -f "$out" Depends)"
dpkg-deb --contents "$out" | awk '{print "  " $NF}' | grep -v '/$'
