#!/usr/bin/env bash
# The whole test suite with the plugin and the core units built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan): ctest, then every pytest with tshark loading the
# sanitized plugin (tools/tshark-plugin preloads the sanitizer runtimes for it). A sanitizer
# report aborts tshark, so the test that ran it fails. About 15 minutes on 2 CPUs.
# Extra arguments go to pytest (e.g. -k spiped).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh   # ./build too: the resource-bound and valgrind tests measure the normal build
export BUILD_DIR=$PWD/build-asan
tools/build.sh -DENABLE_SANITIZERS=ON
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 ctest --test-dir "$BUILD_DIR" --output-on-failure
/usr/bin/python3 -m pytest -q tests "$@"
