#!/usr/bin/env bash
# HTTP benchmark of one tt-node (wrk -t2 -c64 --latency on the same machine),
# with its baselines measured in the same run, on the same node:
#   1. ceiling: GET /healthz (HTTP parse + respond, no actor hop, no disk)
#   2. GET /api/v1/tickets/{id} without a token (actor hops, no disk)
#   3. the same with a Bearer token (adds JWT verification)  -> JWT cost
#   4. durable listings: POST /api/v1/tickets with auth, every request a new
#      ticket (entity + fsync'd group commit) -> 201              -> the target
# Prints req/s, p50, p99 per run, the ratio listings/healthz, the node's CPU
# use per run, the journal's group-commit size and write+fsync time, and a
# verdict against the issue's target (>= 10k durable listings/s, p99 < 20 ms).
#
# Usage: bench/http/run_http_bench.sh [DURATION_SECONDS]      (default 10)
#   TT_NODE_BIN=path/to/tt-node   binary to run (default ./build/nodes/tt-node)
#   TT_BENCH_KEEP=dir             keep the raw wrk outputs and node log there
#   TT_BENCH_CONNS=64 TT_BENCH_THREADS=2  wrk shape
#   extra tt-node options after --:  run_http_bench.sh 10 -- --journal-max-delay-us 200
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10}
shift || true
[ "${1:-}" = "--" ] && shift
node_args=("$@")
bin=${TT_NODE_BIN:-./build/nodes/tt-node}
conns=${TT_BENCH_CONNS:-64}
wthreads=${TT_BENCH_THREADS:-2}
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)"; exit 1; }
command -v curl >/dev/null || { echo "curl missing"; exit 1; }
[ -x "$bin" ] || { echo "no tt-node at $bin: build first (./scripts/build.sh) or set TT_NODE_BIN"; exit 1; }
data=$(mktemp -d /tmp/tt-http-bench-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "${TT_BENCH_KEEP:-}" ]; then mkdir -p "$TT_BENCH_KEEP"; cp "$data"/*.txt "$data"/node.log "$TT_BENCH_KEEP"/ 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT
log() { echo "[bench] $*" >&2; }

# --http-port 0: the node picks a free port and prints it in its ready line.
log "starting $bin (data dir $data/node) ${node_args[*]:-}"
"$bin" --data-dir "$data/node" --http-port 0 --no-rate-limits --log-level warn \
  --argon2-ops 1 --argon2-mem-mib 8 "${node_args[@]}" >"$data/ready.txt" 2>"$data/node.log" &
pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/^tt-node ready: http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$data/ready.txt" 2>/dev/null || true)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/node.log" >&2; echo "tt-node exited" >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "tt-node never printed its ready line" >&2; exit 1; }
url="http://127.0.0.1:$port"
curl -fs "$url/healthz" >/dev/null
log "node pid $pid on $url; $(nproc) cores; wrk -t$wthreads -c$conns -d${dur}s --latency"
curl -fs -X POST "$url/api/v1/auth/register" -d '{"email":"bench@example.com","password":"bench password 123","display_name":"Bench"}' >/dev/null
token=$(curl -fs -X POST "$url/api/v1/auth/login" -d '{"email":"bench@example.com","password":"bench password 123"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
tid=$(curl -fs -X POST "$url/api/v1/tickets" -H "Authorization: Bearer $token" -d '{"event_id":"e","event_name":"E","venue":"V","category":"c","event_starts_at":"2026-12-31T20:00:00Z","section":"1","row":"1","seats":["1"],"face_value_minor":1,"currency":"USD","barcode":"GET-BENCH","platform":"upload"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
[ -n "$token" ] && [ -n "$tid" ] || { echo "could not sign in / list the GET target" >&2; exit 1; }

cpu_ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }  # all processes
metric() { curl -fs "$url/metrics" | awk -v m="$1" '$1==m {print $2}'; }

run() {  # name, then wrk args; prints "name rps p50 p99 node_cores wrk_cores other_cores"
  local name=$1; shift
  log "$name (${dur}s) ..."
  local out t0 t1 s0 s1 rps p50 p99
  t0=$(cpu_ticks); s0=$(busy_ticks)
  out=$( { TIMEFORMAT='%U %S'; time wrk -t"$wthreads" -c"$conns" -d"${dur}s" --latency "$@" 2>&1; } 2>"$data/$name.time")
  t1=$(cpu_ticks); s1=$(busy_ticks)
  echo "$out" > "$data/$name.txt"
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then echo "$out" | grep -E "Non-2xx|Socket errors" | sed 's/^/[bench]   /' >&2; fi
  # CPU in cores: the node, wrk, and everything else on the machine (a
  # shared machine: other work during a run makes its numbers suspect).
  awk -v n="$name" -v r="$rps" -v p5="$p50" -v p9="$p99" -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" \
      -v d="$dur" -v hz="$(getconf CLK_TCK)" -v w="$(cat "$data/$name.time")" 'BEGIN {
    split(w, wt, " "); node = (b - a) / hz / d; wrkc = (wt[1] + wt[2]) / d
    other = (s1 - s0) / hz / d - node - wrkc; if (other < 0) other = 0
    printf "%s %s %s %s %.2f %.2f %.2f\n", n, r, p5, p9, node, wrkc, other }'
}

r1=$(run healthz "$url/healthz")
r2=$(TT_PATH="/api/v1/tickets/$tid" TT_TOKEN="" run get_ticket -s bench/http/get_ticket.lua "$url")
r3=$(TT_PATH="/api/v1/tickets/$tid" TT_TOKEN="$token" run get_ticket_jwt -s bench/http/get_ticket.lua "$url")
b0=$(metric tt_journal_batch_events_count); e0=$(metric tt_journal_batch_events_sum); w0=$(metric tt_journal_write_seconds_sum)
r4=$(TT_TOKEN="$token" run listings -s bench/http/list_tickets.lua "$url")
b1=$(metric tt_journal_batch_events_count); e1=$(metric tt_journal_batch_events_sum); w1=$(metric tt_journal_write_seconds_sum)
grep -E "^status" "$data/listings.txt" | sed 's/^/[bench]   listings /' >&2 || true
non201=$(grep -E "^status" "$data/listings.txt" | grep -vc "^status 201" || true)
rss=$(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$pid/status")

python3 - "$r1" "$r2" "$r3" "$r4" "$b0" "$b1" "$e0" "$e1" "$w0" "$w1" "$dur" "$non201" "$rss" <<'PY'
import sys, json
rows = [r.split() for r in sys.argv[1:5]]
b0, b1, e0, e1, w0, w1, dur = (float(x) for x in sys.argv[5:12])
non201, rss = int(sys.argv[12]), sys.argv[13]
def ms(s):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
d = {r[0]: {"rps": float(r[1]), "p50": r[2], "p99": r[3], "cpu": float(r[4]), "wrk": float(r[5]),
           "other": float(r[6])} for r in rows}
h, g, gj, l = d["healthz"], d["get_ticket"], d["get_ticket_jwt"], d["listings"]
print(f"{'run':<16}{'req/s':>10}{'p50':>10}{'p99':>10}{'node CPU':>10}{'us/req':>8}{'wrk CPU':>9}{'others':>8}")
for k, v in d.items():
    print(f"{k:<16}{v['rps']:>10.0f}{v['p50']:>10}{v['p99']:>10}{v['cpu']:>8.2f} c"
          f"{1e6 * v['cpu'] / v['rps']:>8.0f}{v['wrk']:>7.2f} c{v['other']:>6.2f} c")
noisy = [k for k, v in d.items() if v["other"] > 0.15]
if noisy:
    print(f"WARNING: other processes used CPU during {', '.join(noisy)}: numbers are suspect; rerun on a quiet machine")
batches, events = b1 - b0, e1 - e0
avg_batch = events / batches if batches else 0
avg_write = 1000 * (w1 - w0) / batches if batches else 0
busy = 100 * (w1 - w0) / dur
print(f"durable listings / healthz ceiling: {l['rps']/h['rps']:.2f}x; listings / GET ticket: {l['rps']/g['rps']:.2f}x")
print(f"JWT verification cost on GET ticket: {100*(1-gj['rps']/g['rps']):.1f}% of throughput")
print(f"journal during listings: {batches:.0f} group commits, {avg_batch:.1f} events each, "
      f"{avg_write:.2f} ms write+fsync each, journal thread in write+fsync {busy:.0f}% of the run")
print(f"node RSS after the runs: {rss}")
ok_rate, ok_p99 = l["rps"] >= 10000, ms(l["p99"]) < 20
print(f"target (>= 10000 durable listings/s, p99 < 20 ms): "
      f"{'MET' if ok_rate and ok_p99 else 'NOT MET'} ({l['rps']:.0f}/s, p99 {l['p99']})"
      + ("" if non201 == 0 else f"  WARNING: {non201} non-201 status lines"))
print(json.dumps({"bench": "http", "healthz_rps": h["rps"], "get_rps": g["rps"], "get_jwt_rps": gj["rps"],
                  "listings_rps": l["rps"], "listings_p50": l["p50"], "listings_p99": l["p99"],
                  "listings_vs_ceiling": round(l["rps"]/h["rps"], 3),
                  "jwt_cost_pct": round(100*(1-gj["rps"]/g["rps"]), 1),
                  "journal_avg_batch": round(avg_batch, 1), "journal_avg_write_ms": round(avg_write, 2),
                  "node_cpu_cores": {k: v["cpu"] for k, v in d.items()},
                  "node_cpu_us_per_request": {k: round(1e6 * v["cpu"] / v["rps"]) for k, v in d.items()},
                  "other_cpu_cores": {k: v["other"] for k, v in d.items()}}))
PY
log "done; stopping the node"
