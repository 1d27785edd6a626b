#!/usr/bin/env bash
# One command to a running node: install what is missing, build (Release),
# start tt-node with the HTTP edge on 127.0.0.1:8080 and its data in ./data.
# Extra arguments go to tt-node (see `build/nodes/tt-node --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# Valuations need a model (docs/valuation.md): on a fresh machine train one on
# a generated market (~4 s). Skipped when one exists or --model is given.
if ! ls ./data/models/*.model >/dev/null 2>&1 && [[ " $* " != *" --model "* ]]; then
  echo "[run] no valuation model yet: training one on 20000 generated sales (tt-train)"
  mkdir -p ./data/models
  ./build/nodes/tt-train --generate 20000 --out ./data/models/synthetic-20000.model >/dev/null
fi
echo "[run] starting tt-node (Ctrl-C or SIGTERM stops it cleanly)"
exec ./build/nodes/tt-node --data-dir ./data --http-host 127.0.0.1 --http-port 8080 "$@"
