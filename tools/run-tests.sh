#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite: unit tests and seed replays,
# 20 s of libFuzzer per core harness (clang), then pytest (its dissector fuzz test uses the
# sanitized plugin built here in build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
# Short libFuzzer runs of the core units (clang, ASan + UBSan; fuzz/README.md)
fuzz_build=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$fuzz_build" -DENABLE_FUZZING=ON >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" --target fuzzers
ctest --test-dir "$fuzz_build" -R '_short$' -j2 --output-on-failure
# The sanitized plugin (build-asan): the whole-dissector fuzz test runs tshark with it
BUILD_DIR=build-asan tools/build.sh -DENABLE_SANITIZERS=ON
/usr/bin/python3 -m pytest -q -rs tests "$@"
