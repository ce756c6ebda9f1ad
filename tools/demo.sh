#!/usr/bin/env bash
# Installs dependencies, builds, and shows the Redis commands and replies of a bundled capture.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh >/dev/null
tools/tshark-plugin -r "${1:-test-captures/resp-basic.pcap}" -Y resp \
    -T fields -E header=y -e frame.number -e resp.command -e resp.key -e resp.response_to -e resp.time -e _ws.col.Info
