#!/usr/bin/env bash
# Runs tshark under valgrind memcheck over every committed capture (test-captures/*.pcap, with
# the test key, and port + key log for spiped-fs-keylog-*) and reports the memory errors and
# leaks whose stack goes through the plugin. Wireshark 4.0 itself has known leaks and valgrind
# noise; only blocks with a plugin frame (redis_spiped.so, or one of the plugin's source files
# when debug info is there) count.
#
# usage: tools/valgrind-captures.sh [-j JOBS] [-m "2V plain nokey"] [-k LOGDIR] [CAPTURE ...]
#   -j JOBS    valgrind runs in parallel (default 2)
#   -m MODES   tshark modes, any of: 2V (-2 -V, the default), plain (one pass, no tree: the
#              plugin's tree == NULL paths), nokey (spiped captures without key)
#              (default "2V plain")
#   -k LOGDIR  keep the valgrind logs there
#   CAPTURE    capture names or paths (default: all of test-captures/*.pcap)
# Environment: BUILD_DIR (default ./build; must be the normal, non-ASan build),
#   VALGRIND_TIMEOUT (seconds per run, default 1800).
#
# tshark started by root ignores WIRESHARK_PLUGIN_DIR, so as root (like tools/tshark-plugin)
# everything runs as user nobody with private, readable copies of the plugin and the files.
# dlclose() is made a no-op (a tiny LD_PRELOAD shim built here) so that the plugin is still
# mapped when valgrind symbolizes the leak stacks at exit.
# Exit status: 0 if no run has a plugin error or leak, 1 otherwise, 2 on a set-up error.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
jobs=2
modes="2V plain"
keep=""
timeout_s=${VALGRIND_TIMEOUT:-1800}
while getopts "j:m:k:h" opt; do
    case $opt in
        j) jobs=$OPTARG ;;
        m) modes=$OPTARG ;;
        k) keep=$OPTARG ;;
        *) sed -n '2,24p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

for tool in valgrind gcc tshark /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "valgrind-captures: $tool not found (Debian: apt-get install valgrind gcc tshark)" >&2; exit 2; }
done
so=$(find "$build/plugins" -path '*/epan/redis_spiped.so' 2>/dev/null | head -1 || true)
if [ -z "$so" ]; then
    echo "valgrind-captures: no plugin under $build/plugins; build first (cmake -S . -B build && cmake --build build)" >&2
    exit 2
fi
if grep -q __asan_report "$so"; then
    echo "valgrind-captures: $so is built with sanitizers; valgrind needs the normal build (BUILD_DIR=build)" >&2
    exit 2
fi

if [ $# -eq 0 ]; then
    set -- "$top"/test-captures/*.pcap
fi
captures=()
for c in "$@"; do
    [ -f "$c" ] || c="$top/test-captures/${c%.pcap}.pcap"
    [ -f "$c" ] || { echo "valgrind-captures: no capture $c" >&2; exit 2; }
    captures+=("$(cd "$(dirname "$c")" && pwd)/$(basename "$c")")
done

work=$(mktemp -d /tmp/valgrind-captures.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/home" "$work/files" "$work/logs"
cp -r "$build/plugins" "$work/plugins"
printf 'int dlclose(void *handle) { (void)handle; return 0; }\n' > "$work/nodlclose.c"
gcc -shared -fPIC -O2 "$work/nodlclose.c" -o "$work/nodlclose.so"
cp "${captures[@]}" "$top/test-captures/spiped-test.key" "$work/files/"
for c in "${captures[@]}"; do
    kl="${c%.pcap}.keylog"
    [ -f "$kl" ] && cp "$kl" "$work/files/"
done
chmod -R a+rX "$work"
chmod 0777 "$work/logs"
as_user=()
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$work/home"
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

# one valgrind run: name mode
run_one() {
    local name=$1 mode=$2 f="$work/files/$1.pcap" opts=()
    case $name in
        spiped-fs-keylog-*) opts=(-o spiped.tcp.port:6489) ;;
    esac
    if [[ $name == spiped-* && $mode != nokey ]]; then
        opts+=(-o "spiped.key_file:$work/files/spiped-test.key")
        [ -f "$work/files/$name.keylog" ] && opts+=(-o "spiped.keylog_file:$work/files/$name.keylog")
    fi
    case $mode in
        2V) opts+=(-2 -V) ;;
        plain|nokey) ;;
    esac
    local log="$work/logs/$name.$mode.log" start end rc=0
    start=$(date +%s.%N)
    timeout -s KILL "$timeout_s" "${as_user[@]}" env HOME="$work/home" WIRESHARK_PLUGIN_DIR="$work/plugins" \
        G_SLICE=always-malloc WIRESHARK_DEBUG_WMEM_OVERRIDE=simple LD_PRELOAD="$work/nodlclose.so" \
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite \
        --num-callers=50 --log-file="$log" \
        tshark -n -r "$f" "${opts[@]}" >/dev/null 2>"$log.stderr" || rc=$?
    end=$(date +%s.%N)
    printf '%s %s %s %s\n' "$name" "$mode" "$rc" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" > "$log.result"
}

echo "valgrind-captures: $(valgrind --version), plugin $so, ${#captures[@]} captures, modes: $modes, jobs $jobs"
t0=$(date +%s)
running=0
for c in "${captures[@]}"; do
    name=$(basename "$c" .pcap)
    for mode in $modes; do
        [[ $mode == nokey && $name != spiped-* ]] && continue
        if [ "$running" -ge "$jobs" ]; then
            wait -n || true
            running=$((running - 1))
        fi
        setsid bash -c "$(declare -f run_one); work='$work'; timeout_s='$timeout_s'; as_user=(${as_user[*]}); run_one '$name' '$mode'" &
        pids+=($!)
        running=$((running + 1))
    done
done
wait || true
pids=()
elapsed=$(( $(date +%s) - t0 ))
[ -n "$keep" ] && { mkdir -p "$keep"; cp "$work"/logs/* "$keep"/; }

/usr/bin/python3 - "$work/logs" "$elapsed" <<'EOF'
import glob, os, re, sys
logs, elapsed = sys.argv[1], sys.argv[2]
PLUGIN = re.compile(r"redis_spiped\.so|\((packet-resp|packet-spipe|plugin|resp_parse|resp_commands|"
                    r"spiped_crypto|spiped_keylog)\.c:\d+\)")
LEAK = re.compile(r"are (definitely|indirectly|possibly) lost")
rows, total_plugin, runs, bad_runs = [], 0, 0, 0
details = []
for res in sorted(glob.glob(os.path.join(logs, "*.result"))):
    name, mode, rc, secs = open(res).read().split()
    log = res[:-len(".result")]
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    runs += 1
    blocks, cur = [], []
    for line in text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if body.strip() == "":
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(body)
    if cur:
        blocks.append(cur)
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    all_errors = int(summary.group(1)) if summary else -1
    kinds = {}
    for b in blocks:
        head = b[0]
        if not (head.startswith(("Invalid ", "Conditional jump", "Use of uninitialised", "Syscall param",
                                 "Mismatched free", "Source and destination overlap", "Argument ",
                                 "Jump to the invalid")) or LEAK.search(head)):
            continue
        if not any(PLUGIN.search(l) for l in b[1:]):
            continue
        m = LEAK.search(head)
        kind = f"leak ({m.group(1)})" if m else re.sub(r" of size \d+| at 0x[0-9A-F]+", "", head).strip()
        kinds[kind] = kinds.get(kind, 0) + 1
        details.append((name, mode, b))
    n = sum(kinds.values())
    total_plugin += n
    failed = n > 0 or rc not in ("0", "99")
    bad_runs += failed
    if rc not in ("0", "99"):
        kinds[f"tshark/valgrind exit {rc}"] = 1
    rows.append((name, mode, rc, float(secs), all_errors, kinds))

print("\ncapture                      mode   secs  valgrind-rc  all-errors  plugin findings")
for name, mode, rc, secs, all_errors, kinds in rows:
    k = ", ".join(f"{v} x {kk}" for kk, v in sorted(kinds.items())) or "none"
    print(f"{name:28s} {mode:5s} {secs:6.1f}  {rc:>11s}  {all_errors:10d}  {k}")
seen = set()
for name, mode, b in details:
    key = "\n".join(l for l in b[1:] if PLUGIN.search(l))
    if key in seen:
        continue
    seen.add(key)
    print(f"\n--- {name} [{mode}]:\n  " + "\n  ".join(b[:16]))
worst = max(rows, key=lambda r: r[3]) if rows else None
print(f"\nvalgrind-captures: {runs} runs on {len({r[0] for r in rows})} captures in {elapsed} s; "
      f"plugin errors and leaks: {total_plugin} (in {bad_runs} runs); "
      f"valgrind errors of any origin: {sum(max(r[4], 0) for r in rows)}; "
      + (f"slowest run {worst[3]:.0f} s ({worst[0]} {worst[1]})" if worst else ""))
print(f"valgrind-captures: {runs - bad_runs} clean, {bad_runs} with plugin findings")
sys.exit(1 if bad_runs else 0)
EOF
