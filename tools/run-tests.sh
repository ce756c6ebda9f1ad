#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit tests, then pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
/usr/bin/python3 -m pytest -q tests "$@"
