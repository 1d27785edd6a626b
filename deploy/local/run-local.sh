#!/usr/bin/env bash
# Starts one local node from the build tree in the background and waits until
# it serves. Usage: deploy/local/run-local.sh [PORT] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:-8080}
data=${2:-./data}
bin=./build/nodes/tt-node
[ -x "$bin" ] || { echo "build first: ./scripts/build.sh" >&2; exit 1; }
mkdir -p "$data"
"$bin" --data-dir "$data" --http-port "$port" >"$data/tt-node.out" 2>"$data/tt-node.log" &
pid=$!
echo "$pid" > "$data/tt-node.pid"
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "tt-node pid $pid serving on http://127.0.0.1:$port (logs: $data/tt-node.log)"
    exit 0
  fi
  sleep 0.1
done
echo "tt-node did not become healthy; see $data/tt-node.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
