#!/usr/bin/env bash
# One command to a running node: install what is missing, build (Release),
# start tt-node with the HTTP edge on 127.0.0.1:8080 and its data in ./data.
# Extra arguments go to tt-node (see `build/nodes/tt-node --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
echo "[run] starting tt-node (Ctrl-C or SIGTERM stops it cleanly)"
exec ./build/nodes/tt-node --data-dir ./data --http-host 127.0.0.1 --http-port 8080 "$@"
