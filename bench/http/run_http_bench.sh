#!/usr/bin/env bash
# HTTP benchmark of one tt-node (wrk -t2 -c64 on the same 2 cores), with its
# baselines measured in the same run:
#   1. ceiling: GET /healthz (HTTP parse + respond, no actor hop, no disk)
#   2. GET /api/v1/tickets/{id} without a token (actor hop, no disk)
#   3. the same with a Bearer token (adds JWT verification)  -> JWT cost
#   4. durable listings: POST /api/v1/tickets with auth (entity + fsync'd
#      group commit), each a new ticket                       -> the target
# Usage: bench/http/run_http_bench.sh [DURATION_SECONDS]   (build first)
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10}
bin=./build/nodes/tt-node
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)"; exit 1; }
[ -x "$bin" ] || { echo "build first: ./scripts/build.sh"; exit 1; }
data=$(mktemp -d /tmp/tt-http-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18777)
"$bin" --data-dir "$data/node" --http-port "$port" --no-rate-limits --log-level warn \
  --argon2-ops 1 --argon2-mem-mib 8 >/dev/null 2>"$data/node.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"
curl -fs -X POST "$url/api/v1/auth/register" -d '{"email":"bench@example.com","password":"bench password 123","display_name":"Bench"}' >/dev/null
token=$(curl -fs -X POST "$url/api/v1/auth/login" -d '{"email":"bench@example.com","password":"bench password 123"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
tid=$(curl -fs -X POST "$url/api/v1/tickets" -H "Authorization: Bearer $token" -d '{"event_id":"e","event_name":"E","venue":"V","category":"c","event_starts_at":"2026-12-31T20:00:00Z","section":"1","row":"1","seats":["1"],"face_value_minor":1,"currency":"USD","barcode":"GET-BENCH","platform":"upload"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')

run() {  # name, then wrk args; prints "name rps p50 p99"
  local name=$1; shift
  echo "[bench] $name (${dur}s) ..." >&2
  local out
  out=$(wrk -t2 -c64 -d"${dur}s" --latency "$@" 2>&1)
  echo "$out" > "$data/$name.txt"
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$name $rps $p50 $p99"
  if echo "$out" | grep -q "Non-2xx"; then echo "$out" | grep -E "Non-2xx|status" >&2; fi
}

r1=$(run healthz "$url/healthz")
r2=$(TT_PATH="/api/v1/tickets/$tid" TT_TOKEN="" run get_ticket -s bench/http/get_ticket.lua "$url")
r3=$(TT_PATH="/api/v1/tickets/$tid" TT_TOKEN="$token" run get_ticket_jwt -s bench/http/get_ticket.lua "$url")
r4=$(TT_TOKEN="$token" run listings -s bench/http/list_tickets.lua "$url")
grep -E "^status" "$data/listings.txt" >&2 || true
batch=$(curl -fs "$url/metrics" | awk '/^tt_journal_batch_events_sum/ {s=$2} /^tt_journal_batch_events_count/ {c=$2} END {if (c>0) printf "%.1f", s/c}')

python3 - "$r1" "$r2" "$r3" "$r4" "$batch" <<'PY'
import sys, json
rows = [r.split() for r in sys.argv[1:5]]
d = {r[0]: {"rps": float(r[1]), "p50": r[2], "p99": r[3]} for r in rows}
h, g, gj, l = d["healthz"], d["get_ticket"], d["get_ticket_jwt"], d["listings"]
print(f"{'run':<16}{'req/s':>10}{'p50':>10}{'p99':>10}")
for k, v in d.items():
    print(f"{k:<16}{v['rps']:>10.0f}{v['p50']:>10}{v['p99']:>10}")
print(f"durable listings / healthz ceiling: {l['rps']/h['rps']:.2f}x")
print(f"JWT verification cost on GET ticket: {100*(1-gj['rps']/g['rps']):.1f}% of throughput")
print(f"average journal batch: {sys.argv[5]} events")
print(json.dumps({"bench": "http", "healthz_rps": h["rps"], "get_rps": g["rps"], "get_jwt_rps": gj["rps"],
                  "listings_rps": l["rps"], "listings_p99": l["p99"],
                  "listings_vs_ceiling": round(l["rps"]/h["rps"], 3),
                  "jwt_cost_pct": round(100*(1-gj["rps"]/g["rps"]), 1)}))
PY
