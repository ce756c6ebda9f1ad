#!/usr/bin/env bash
# Proves the README on pristine Debian machines, one per Wireshark release:
# bookworm (4.0), trixie (4.4), sid (4.6).
#
#   tools/test-releases.sh [SUITE ...]          (default: bookworm trixie sid; needs root)
#
# For each suite: a fresh copy of the bare root that tools/release-root.sh caches (debootstrap
# minbase + git + sudo + ca-certificates; nothing of this project is ever cached), a clean
# clone of this repository's HEAD, then, exactly as a newcomer would:
#   1. as root, in /root/redis-spiped: the README's two quick-start commands
#      (tools/demo.sh, then tools/run-tests.sh);
#   2. as "dev", a user with sudo, in a clone of its own: the same two commands;
#   3. the Debian package built there (tools/build-deb.sh), installed with apt, loaded by plain
#      tshark run as an ordinary user, then removed, leaving none of its files.
# Logs go to RELEASE_LOGS (default /var/tmp/release-logs/<suite>/); a table of what passed,
# the test counts and the time of each step is printed at the end, then the line
# "releases: N passed, M failed" (N, M count steps). Exit 1 if any step failed.
#
# Every process started inside a root is stopped (by PID, found by its root directory) before
# the root is unmounted and removed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "test-releases.sh: needs root (chroot, mounts)" >&2; exit 2; }
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie sid)
logs=${RELEASE_LOGS:-/var/tmp/release-logs}
step_timeout=${RELEASE_STEP_TIMEOUT:-2400} # seconds, for one step
mkdir -p "$logs"
t_start=$(date +%s)
summary=()
passed=0
failed=0

root=""
mounts=()
cleanup_root() {
    [ -n "$root" ] || return 0
    # processes whose root is this root: tests stop their own, this catches any left over
    local pids=() p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=("${p#/proc/}")
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        sleep 2
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    local i mp extra=()
    # what the tests mounted inside (ip netns: run/netns), newest first, then ours
    while read -r _ mp _; do
        case "$mp" in "$root"/*) extra=("$mp" "${extra[@]}") ;; esac
    done </proc/self/mounts
    for mp in "${extra[@]}"; do
        umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    done
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
    done
    mounts=()
    # never delete through a mount that is still there
    if grep -qE " $root(/| )" /proc/self/mounts; then
        echo "test-releases.sh: $root still has mounts; left in place" >&2
    else
        rm -rf --one-file-system "$(dirname "$root")"
    fi
    root=""
}
trap cleanup_root EXIT
trap 'exit 143' TERM INT

mount_in() { # type-or-bind source target
    local target=$root$3
    mkdir -p "$target"
    if [ "$1" = bind ]; then
        mount --bind "$2" "$target"
        mounts+=("$target")
        # nothing mounted inside the root may propagate back to the host's own folder
        mount --make-rslave "$target"
    else
        mount -t "$1" "$2" "$target"
        mounts+=("$target")
    fi
}

# run_in USER LOG COMMAND: a login-like environment inside the root, bounded in time
run_in() {
    local user=$1 log=$2 cmd=$3 home=/root
    [ "$user" = root ] || home=/home/$user
    timeout -s KILL "$step_timeout" chroot "$root" setpriv --reuid="$user" --regid="$user" --init-groups \
        env -i HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        bash -c "cd ~ && $cmd" </dev/null >"$log" 2>&1
}

# step NAME USER COMMAND: runs and records one step of the summary
step() {
    local name=$1 user=$2 cmd=$3 log="$suite_logs/$1.log" t0 rc=0 counts=""
    t0=$(date +%s)
    run_in "$user" "$log" "$cmd" || rc=$?
    local secs=$(($(date +%s) - t0))
    counts=$(grep -E '^[0-9]+ (passed|failed)|(passed|failed|skipped).* in [0-9.]+s' "$log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//' || true)
    local ctest
    ctest=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | head -1 | sed 's/^ *//' || true)
    [ -z "$ctest" ] || counts="ctest: $ctest; pytest: $counts"
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        summary+=("$suite | $name | ok | ${secs}s | $counts")
    else
        failed=$((failed + 1))
        summary+=("$suite | $name | FAILED (rc $rc, $log) | ${secs}s | $counts")
        tail -30 "$log" | sed "s/^/  [$suite $name] /" >&2
    fi
    echo "test-releases: $suite $name: rc $rc, ${secs}s ${counts:+($counts)}"
    return "$rc"
}

for suite in "${suites[@]}"; do
    suite_logs="$logs/$suite"
    rm -rf "$suite_logs"
    mkdir -p "$suite_logs"
    t_suite=$(date +%s)
    tarball=$("$top/tools/release-root.sh" "$suite")
    work=$(mktemp -d "/var/tmp/release-test.$suite.XXXXXX")
    root="$work/root"
    mkdir "$root"
    tar -C "$root" -xf "$tarball"
    # the root is a mount point of its own, as on a real machine: `ip netns exec` (the live
    # tests' private networks) needs that; private, so nothing mounted in it leaks out
    mount --bind "$root" "$root"
    mounts+=("$root")
    mount --make-private "$root"
    mount_in proc proc /proc
    mount_in sysfs sys /sys
    mount_in bind /dev /dev
    mount_in bind /dev/pts /dev/pts
    mount_in tmpfs tmpfs /dev/shm
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    # the committed state, as `git clone` gives it to a newcomer
    git clone -q --bare "$top" "$root/srv/redis-spiped.git"
    chroot "$root" useradd -m -s /bin/bash dev
    echo 'dev ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/dev"
    chmod 0440 "$root/etc/sudoers.d/dev"
    cp -a "$root/srv/redis-spiped.git" "$root/srv/redis-spiped-dev.git"
    chroot "$root" chown -R dev:dev /srv/redis-spiped-dev.git
    echo "test-releases: $suite: root ready in $root ($(($(date +%s) - t_suite))s)"

    clone='git clone -q /srv/redis-spiped.git redis-spiped && cd redis-spiped'
    clone_dev='git clone -q /srv/redis-spiped-dev.git redis-spiped && cd redis-spiped'
    # the demo must show a paired SET in the clear and one decrypted from the tunnel
    demo='set -o pipefail; tools/demo.sh | tee ~/demo.out && grep -qP "^17\tSET\tgreeting\t" ~/demo.out &&
          grep -qP "^54\t\t\t53\t" ~/demo.out'
    step root-demo root "$clone && $demo" || true
    step root-tests root "cd redis-spiped && tools/run-tests.sh" || true
    step dev-demo dev "$clone_dev && $demo" || true
    step dev-tests dev "cd redis-spiped && tools/run-tests.sh" || true
    # the package, built from root's tree (configured by the runs above)
    step package root "cd redis-spiped && tools/build-deb.sh && apt-get install -y -qq ./build/deb/*.deb" || true
    step package-loads dev "cd redis-spiped && tools/check-installed.sh present" || true
    step package-removed dev "sudo apt-get remove -y -qq redis-spiped-wireshark && cd redis-spiped && tools/check-installed.sh absent" || true
    tshark_version=$(chroot "$root" tshark --version 2>/dev/null | head -1 || true)
    summary+=("$suite | all | $tshark_version | $(($(date +%s) - t_suite))s |")
    cleanup_root
done

echo
echo "suite | step | result | time | tests"
printf '%s\n' "${summary[@]}"
echo "test-releases: ${suites[*]} in $(($(date +%s) - t_start)) s"
echo "releases: $passed passed, $failed failed"
[ "$failed" = 0 ]
