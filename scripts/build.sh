#!/usr/bin/env bash
# Configures and builds Ticket Trader (Release) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
echo "[build] configuring (Release) ..."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
echo "[build] compiling with $jobs jobs ..."
cmake --build build -j "$jobs"
