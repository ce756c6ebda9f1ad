#!/usr/bin/env bash
# Makes a screenshot of one of the plugin's statistics dialogs in the Wireshark GUI, under a
# private Xvfb, with the plugin freshly built in BUILD_DIR (default ./build).
#
#   tools/make-screenshot.sh [-t TREE] [-o OUT.png] [-s WxH] [-x ROWS] [CAPTURE]
#
#   TREE     resp (default: RESP/Commands), resp_keys, resp_clients, or srt (Statistics >
#            Service Response Time > RESP)
#   OUT      default docs/images/resp-stats.png
#   WxH      size of the dialog, default 1000x1100
#   ROWS     top-level rows to show collapsed, comma-separated (Wireshark 4.0, 4.4); for
#            resp, default "Requests,Bytes to server by command,Bytes to client by command"
#   CAPTURE  default test-captures/resp-answers.pcap, else test-captures/resp-pipeline.pcap
#
# Installs what it needs when missing (wireshark, xvfb, x11-apps, x11-utils, xdotool,
# imagemagick; as root or through sudo) and builds the plugin when BUILD_DIR has none.
#
# How: Xvfb picks a free display itself (-displayfd). The GUI, like tshark, ignores
# WIRESHARK_PLUGIN_DIR and the personal plugin folder when started by root, so as root it
# runs as user nobody with a private HOME and a private, readable copy of the plugin and of
# the capture (what tools/tshark-plugin does for tshark). The GUIs of 4.0, 4.4 and 4.6 accept
# "-z resp,srt" but no "-z <tree>,tree", so a tree is opened through the menu with the
# keyboard: Statistics, its last entry (plugin trees come last, after a separator, sorted by
# name: "RESP" after the stock "F5" and, on 4.6, "ILNP Statistics"), then the tree's entry in
# the "RESP" submenu (a GUI that lists "<tree>,tree" under "wireshark -z help" would get -z).
# The dialog is moved to the corner and resized; on 4.0 and 4.4, whose dialog sorts by name
# and shows every row expanded, the per-command histograms of the first row (RESP/Commands:
# "Response time (us) by command") and the rows named by -x are collapsed, so that the
# picture shows every command's figures, the replies and the errors. The window is grabbed
# by its id (xwd): Xvfb's root image does not always hold what the GUI painted. Everything
# started here (Xvfb, wireshark) is stopped by PID at the end; every wait is bounded.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
tree=resp
fold=""
fold_set=""
out=$top/docs/images/resp-stats.png
size=1000x1100
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "t:o:s:x:h" opt; do
    case $opt in
        t) tree=$OPTARG ;;
        x) fold=$OPTARG; fold_set=1 ;;
        o) out=$OPTARG ;;
        s) size=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
if [ $# -eq 1 ]; then
    capture=$1
elif [ -f "$top/test-captures/resp-answers.pcap" ]; then
    capture=$top/test-captures/resp-answers.pcap
else
    capture=$top/test-captures/resp-pipeline.pcap
fi
case $tree in resp | resp_keys | resp_clients | srt) ;; *) usage ;; esac
# RESP/Commands: the per-command figures are in the response times; the request counts and
# the bytes would push the replies and errors off the picture
if [ -z "$fold_set" ] && [ "$tree" = resp ]; then
    fold="Requests,Bytes to server by command,Bytes to client by command"
fi
[[ $size =~ ^[0-9]+x[0-9]+$ ]] || usage
[ -f "$capture" ] || { echo "make-screenshot.sh: no capture $capture" >&2; exit 2; }
capture=$(cd "$(dirname "$capture")" && pwd)/$(basename "$capture")
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
log() { echo "make-screenshot.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- what it needs ------------------------------------------------------------------------
need=()
command -v wireshark >/dev/null || need+=(wireshark)   # on Debian 12 it pulls in wireshark-qt
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xwd >/dev/null || need+=(x11-apps)
command -v xwininfo >/dev/null || need+=(x11-utils)
command -v xdotool >/dev/null || need+=(xdotool)
command -v convert >/dev/null || need+=(imagemagick)
command -v tshark >/dev/null || need+=(tshark)
if [ ${#need[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    log "installing ${need[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! ls "$build"/plugins/*/epan/*.so >/dev/null 2>&1; then
    log "building the plugin into $build"
    (cd "$top" && BUILD_DIR=$build tools/build.sh >/dev/null)
fi
ws_version=$(wireshark --version 2>/dev/null | sed -n '1s/^Wireshark \([0-9]*\.[0-9]*\).*/\1/p')
[ -d "$build/plugins/$ws_version/epan" ] ||
    die "the plugin in $build/plugins is not built for Wireshark $ws_version (rebuild it)"

# ---- private files, private display -------------------------------------------------------
tmp=$(mktemp -d /tmp/make-screenshot.XXXXXX)
xvfb_pid="" ws_pid=""
stop() { # PID: TERM, bounded wait, KILL
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$ws_pid"
    stop "$xvfb_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

mkdir -p "$tmp/home" "$tmp/run" "$tmp/files"
cp -r "$build/plugins" "$tmp/plugins"
cp "$capture" "$tmp/files/"
cap=$tmp/files/$(basename "$capture")
chmod -R a+rX "$tmp/plugins" "$tmp/files"
chmod a+rx "$tmp"
chmod 700 "$tmp/run"
run_as=()
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$tmp/home" "$tmp/run"
    run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

# -noreset: with reset, the server regenerates when its last client goes, and a client
# connecting at that moment is refused
w=${size%x*} h=${size#*x}
screen="$((w > 1500 ? w + 100 : 1600))x$((h > 1100 ? h + 100 : 1200))x24"
Xvfb -displayfd 9 -screen 0 "$screen" -nolisten tcp -noreset \
    9>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for ((i = 0; i < 100; i++)); do
    [ -s "$tmp/display" ] && break
    kill -0 "$xvfb_pid" 2>/dev/null || die "Xvfb did not start: $(tail -n 3 "$tmp/xvfb.log")"
    sleep 0.1
done
[ -s "$tmp/display" ] || die "Xvfb did not report its display within 10 s"
DISPLAY=:$(head -n 1 "$tmp/display")
export DISPLAY
for ((i = 0; i < 100; i++)); do
    xwininfo -root >/dev/null 2>&1 && break
    sleep 0.1
done
xwininfo -root >/dev/null 2>&1 || die "display $DISPLAY does not answer"
log "Xvfb on $DISPLAY (PID $xvfb_pid)"

# the GUI as the user it runs as, in its private home
gui=("${run_as[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DISPLAY="$DISPLAY" LANG=C.UTF-8
     HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" WIRESHARK_PLUGIN_DIR="$tmp/plugins")

# ---- which dialog, and how to open it ------------------------------------------------------
zopts=()
menu_index=""
if [ "$tree" = srt ]; then
    zopts=(-z "resp,srt")
elif timeout 60 "${gui[@]}" wireshark -z help 2>&1 | grep -qx " *$tree,tree"; then
    zopts=(-z "$tree,tree")
else
    # the RESP submenu lists the plugin's trees sorted by their names (strcmp); tshark
    # prints a tree's name as "RESP/Commands:" (4.0) or "RESP / Commands:" (4.2+)
    tree_name() {
        BUILD_DIR=$build timeout 120 "$top/tools/tshark-plugin" -r "$capture" -q -z "$1,tree" \
            2>/dev/null | sed -n 's/^RESP *\/ *\(.*\):$/\1/p' | head -n 1
    }
    names=()
    for t in resp resp_keys resp_clients; do
        n=$(tree_name "$t")
        [ -n "$n" ] || die "tshark has no tree $t,tree: is the plugin built with its statistics?"
        names+=("$n	$t")
    done
    menu_index=$(printf '%s\n' "${names[@]}" | LC_ALL=C sort | awk -F'\t' -v t="$tree" \
        '$2 == t { print NR - 1 }')
fi

# Rows to collapse, planned on the tree as tshark prints it (4.0, 4.4). The GUI sorts every
# level by name, descending (strcmp), and shows every row expanded. So its first row is the
# top-level node with the greatest name: its children are collapsed when they hold ranges
# ("0-49", ..., "1000000-"); then each top-level row named in -x is collapsed, the rows
# between them skipped. The plan is a list of keys, typed after Home.
# Wireshark 4.6 opens the dialog sorted as the tree asks (RESP/Commands: by count, descending)
# with the rows below the top level collapsed: nothing to do there.
keys=""
if [ "$tree" != srt ] && [ "$(printf '%s\n' "$ws_version" 4.5 | sort -V | head -n 1)" != 4.5 ]; then
    BUILD_DIR=$build timeout 120 "$top/tools/tshark-plugin" -r "$capture" -q -z "$tree,tree" \
        2>/dev/null >"$tmp/tree.txt" || true
    keys=$(LC_ALL=C awk -v fold="$fold" '
        /^-+$/ { body = 1; next }
        /^=+$/ { body = 0 }
        body && NF {
            match($0, /^ */); depth = RLENGTH
            name = substr($0, depth + 1); sub(/  .*/, "", name)
            if (depth == 0) { top = name; tops[++n] = name; desc[name] = 0 }
            else {
                desc[top]++
                if (depth == 1) kids[top]++
                else if (depth == 2 && name ~ /^[0-9]+-[0-9]*$/) ranges[top] = 1
            }
        }
        END {
            if (n == 0) exit
            # display order: by name, descending
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (tops[j] > tops[i]) { t = tops[i]; tops[i] = tops[j]; tops[j] = t }
            m = split(fold, f, ",")
            for (i = 1; i <= m; i++) want[f[i]] = 1
            out = ""
            # the cursor ends on the last row of each top-level block
            first = tops[1]
            if (ranges[first]) for (i = 0; i < kids[first]; i++) out = out " Down minus"
            else for (i = 0; i < desc[first]; i++) out = out " Down"
            left = 0
            for (i = 2; i <= n; i++) if (tops[i] in want) left++
            for (i = 2; i <= n && left > 0; i++) {
                out = out " Down"
                if (tops[i] in want) { out = out " minus"; left-- }
                else for (j = 0; j < desc[tops[i]]; j++) out = out " Down"
            }
            if (out != "" && (ranges[first] || m > 0)) print out
        }' "$tmp/tree.txt")
fi

# ---- the GUI ---------------------------------------------------------------------------------
log "wireshark -r $(basename "$capture") ${zopts[*]}"
"${gui[@]}" wireshark -r "$cap" "${zopts[@]}" >"$tmp/wireshark.log" 2>&1 &
ws_pid=$!

# wait_window PATTERN SECONDS: prints the id of a visible window whose name matches
wait_window() {
    local deadline=$((SECONDS + $2)) w
    while ((SECONDS < deadline)); do
        kill -0 "$ws_pid" 2>/dev/null || die "wireshark ended: $(tail -n 5 "$tmp/wireshark.log")"
        w=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -n 1 || true)
        if [ -n "$w" ]; then echo "$w"; return 0; fi
        sleep 0.2
    done
    return 1
}
base=$(basename "$capture")
main=$(wait_window "^${base//./\\.}" 90) || die "no main window within 90 s"
log "main window $main"
sleep 2   # the file is read and the menus are built (appInitialized)

dialog_pattern='^Wireshark · '
if [ -n "$menu_index" ]; then
    xdotool windowfocus --sync "$main"
    sleep 0.3
    xdotool key alt+s; sleep 0.5
    xdotool key Up; sleep 0.3        # the last entry: the RESP submenu
    xdotool key Right; sleep 0.5     # its first entry
    for ((i = 0; i < menu_index; i++)); do xdotool key Down; sleep 0.1; done
    xdotool key Return
fi
dialog=$(wait_window "$dialog_pattern" 60) ||
    die "no statistics dialog within 60 s (is \"RESP\" the last entry of the Statistics menu?)"
log "dialog $dialog: $(xdotool getwindowname "$dialog")"
sleep 2   # the retap that fills it

xdotool windowmove "$dialog" 0 0
xdotool windowsize "$dialog" "$w" "$h"
sleep 1
xdotool windowfocus --sync "$dialog"
if [ "$tree" != srt ]; then
    # focus the tree: a click on a row, then its first row
    xdotool mousemove --window "$dialog" 150 60 click 1
    sleep 0.3
    xdotool key Home
    if [ -n "$keys" ]; then
        # shellcheck disable=SC2086
        xdotool key --delay 30 $keys
        xdotool key Home
    fi
fi
xdotool mousemove "$((w + 50))" "$((h + 50))"   # no hover highlight
sleep 1

xwd -id "$dialog" -silent >"$tmp/dialog.xwd"
convert "xwd:$tmp/dialog.xwd" -strip "PNG8:$tmp/dialog.png"   # 256 colours: a quarter of the size
mean=$(convert "$tmp/dialog.png" -format '%[fx:mean]' info:)
awk -v m="$mean" 'BEGIN { exit !(m > 0.3) }' || die "the picture is mostly dark (mean $mean): not painted?"
mv "$tmp/dialog.png" "$out"
log "wrote $out ($(identify -format '%wx%h' "$out"))"
