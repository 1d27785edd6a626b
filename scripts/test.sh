#!/usr/bin/env bash
# One command to the whole test suite: install what is missing, build
# (Release), run every test with ctest (unit, integration, fault tests).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
echo "[test] running ctest ..."
cd build
ctest --output-on-failure --timeout 600 -j 2 "$@"
