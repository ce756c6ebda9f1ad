#!/usr/bin/env bash
# Configures and builds the plugin and the unit tests into ./build (extra args go to cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B "${BUILD_DIR:-build}" "$@" >/dev/null
cmake --build "${BUILD_DIR:-build}" -j"$(nproc)"
