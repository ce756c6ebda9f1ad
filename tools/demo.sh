#!/usr/bin/env bash
# Installs dependencies, builds, and shows the plugin's main job on bundled captures: Redis
# commands, keys, pairing and response times, in the clear and decrypted from a spiped tunnel.
# With a capture as argument, shows that capture instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh >/dev/null
fields=(-T fields -E header=y -e frame.number -e resp.command -e resp.key -e resp.response_to
        -e resp.time -e _ws.col.Info)
if [ $# -gt 0 ]; then
    exec tools/tshark-plugin -r "$1" -Y resp "${fields[@]}"
fi
echo "== Redis in the clear: test-captures/resp-basic.pcap (first 30 messages)"
tools/tshark-plugin -r test-captures/resp-basic.pcap -Y resp "${fields[@]}" | head -31
echo
echo "== Redis inside a spiped tunnel, decrypted with its key file: test-captures/spiped-fast.pcap"
tools/tshark-plugin -r test-captures/spiped-fast.pcap -o spiped.key_file:test-captures/spiped-test.key \
    -Y resp "${fields[@]}" | head -31
